// Create or change an IOC collection: name, description, who sees it, its TLP marking.
import { Switch, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormModal, TlpSelect, type TlpLevel } from "./common";
import { changedFields } from "./text";

export type Collection = Schemas["krsn__sharing__schemas__CollectionRead"];

interface Values {
  name: string;
  description: string | null;
  is_public: boolean;
  tlp: TlpLevel | null;
}

function initial(collection?: Collection): Values {
  return {
    name: collection?.name ?? "",
    description: collection?.description ?? null,
    is_public: collection?.is_public ?? false,
    tlp: collection?.tlp ?? null,
  };
}

export function CollectionForm({
  opened,
  onClose,
  collection,
  onSaved,
}: {
  opened: boolean;
  onClose: () => void;
  collection?: Collection;
  onSaved: (saved: Collection) => void;
}) {
  const client = useQueryClient();
  const [values, setValues] = useState<Values>(() => initial(collection));
  const [nameError, setNameError] = useState<string | null>(null);
  useEffect(() => {
    if (opened) setValues(initial(collection));
  }, [opened, collection]);
  const save = useMutation({
    mutationFn: (body: Values) =>
      collection
        ? unwrap(
            api.PATCH("/api/v1/ioc-collections/{collection_id}", {
              params: { path: { collection_id: collection.id } },
              body: changedFields(initial(collection), body),
            }),
          )
        : unwrap(api.POST("/api/v1/ioc-collections", { body })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ["ioc-collections"] });
      onSaved(saved);
    },
  });
  const submit = () => {
    if (!values.name.trim()) {
      setNameError("A collection needs a name.");
      return;
    }
    setNameError(null);
    save.mutate({ ...values, name: values.name.trim(), description: values.description?.trim() || null });
  };
  return (
    <FormModal opened={opened} title={collection ? "Change the collection" : "New IOC collection"}
      submitLabel={collection ? "Save changes" : "Create collection"} onSubmit={submit}
      onClose={() => {
        save.reset();
        onClose();
      }}
      loading={save.isPending} error={save.error}>
      <TextInput label="Name" required data-autofocus value={values.name} error={nameError}
        onChange={(event) => setValues({ ...values, name: event.currentTarget.value })} />
      <Textarea label="Description" autosize minRows={2} maxRows={8} value={values.description ?? ""}
        onChange={(event) => setValues({ ...values, description: event.currentTarget.value })} />
      <Switch label="Public (everyone sees it; a private one only you and admins)" checked={values.is_public}
        onChange={(event) => setValues({ ...values, is_public: event.currentTarget.checked })} />
      <TlpSelect value={values.tlp} onChange={(tlp) => setValues({ ...values, tlp })} />
    </FormModal>
  );
}
