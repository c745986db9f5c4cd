import { Button } from "@mantine/core";

/** A detail page's Edit and Delete actions; without onEdit (say, while the editor is open) only Delete shows. */
export function EditDeleteButtons({ onEdit, onDelete }: { onEdit?: () => void; onDelete: () => void }) {
  return (
    <>
      {onEdit && (
        <Button variant="default" onClick={onEdit}>
          Edit
        </Button>
      )}
      <Button variant="light" color="red" onClick={onDelete}>
        Delete
      </Button>
    </>
  );
}
