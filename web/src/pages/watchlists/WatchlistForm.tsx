// Create or change a watchlist: its name, what it takes, a description, whether it matches.
import { Select, Switch, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormModal } from "../catalog/common";
import { changedFields } from "../catalog/text";

type Watchlist = Schemas["WatchlistRead"];
type ListType = Schemas["WatchlistType"];

export const LIST_TYPES: { value: ListType; label: string }[] = [
  { value: "ip_blacklist", label: "IP blacklist (addresses and ranges)" },
  { value: "domain_blacklist", label: "Domain blacklist (domains, URLs, e-mails)" },
  { value: "hash_whitelist", label: "Hash whitelist (suppresses alerts)" },
  { value: "custom", label: "Custom (any value)" },
];

export function typeLabel(value: string): string {
  return LIST_TYPES.find((item) => item.value === value)?.label.replace(/ \(.*\)$/, "") ?? value;
}

interface Values {
  name: string;
  list_type: ListType;
  description: string | null;
  is_active: boolean;
}

function initial(watchlist?: Watchlist): Values {
  return {
    name: watchlist?.name ?? "",
    list_type: watchlist?.list_type ?? "ip_blacklist",
    description: watchlist?.description ?? null,
    is_active: watchlist?.is_active ?? true,
  };
}

export function WatchlistForm({
  opened,
  onClose,
  watchlist,
  onSaved,
}: {
  opened: boolean;
  onClose: () => void;
  watchlist?: Watchlist;
  onSaved: (saved: Watchlist) => void;
}) {
  const client = useQueryClient();
  const [values, setValues] = useState<Values>(() => initial(watchlist));
  const [nameError, setNameError] = useState<string | null>(null);
  useEffect(() => {
    if (opened) setValues(initial(watchlist));
  }, [opened, watchlist]);
  const save = useMutation({
    mutationFn: (body: Values) =>
      watchlist
        ? unwrap(
            api.PATCH("/api/v1/watchlists/{watchlist_id}", {
              params: { path: { watchlist_id: watchlist.id } },
              body: changedFields(initial(watchlist), body),
            }),
          )
        : unwrap(api.POST("/api/v1/watchlists", { body })),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: ["watchlists"] });
      onSaved(saved);
    },
  });
  const submit = () => {
    if (!values.name.trim()) {
      setNameError("A watchlist needs a name.");
      return;
    }
    setNameError(null);
    save.mutate({ ...values, name: values.name.trim(), description: values.description?.trim() || null });
  };
  return (
    <FormModal
      opened={opened}
      onClose={() => {
        save.reset();
        onClose();
      }}
      title={watchlist ? "Change the watchlist" : "New watchlist"}
      submitLabel={watchlist ? "Save changes" : "Create watchlist"}
      onSubmit={submit}
      loading={save.isPending}
      error={save.error}
    >
      <TextInput label="Name" required data-autofocus value={values.name} error={nameError}
        onChange={(event) => setValues({ ...values, name: event.currentTarget.value })} />
      <Select label="Type" description="What the list takes, and whether a hit raises or suppresses alerts"
        data={LIST_TYPES} value={values.list_type} allowDeselect={false}
        onChange={(value) => value && setValues({ ...values, list_type: value as ListType })} />
      <Textarea label="Description" autosize minRows={2} maxRows={8} value={values.description ?? ""}
        onChange={(event) => setValues({ ...values, description: event.currentTarget.value })} />
      <Switch label="Active (an inactive list keeps its items but never matches)" checked={values.is_active}
        onChange={(event) => setValues({ ...values, is_active: event.currentTarget.checked })} />
    </FormModal>
  );
}
