import { useMutation, useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useNavigate } from "react-router-dom";

/**
 * Deletes the object a page shows, then goes back to its list with a notice. The object's
 * own cache entry is dropped first, so the refresh of the lists does not fetch it again.
 */
export function useDeleteAndLeave({ mutationFn, detailKey, refresh, to, notice }: {
  mutationFn: () => Promise<unknown>;
  detailKey: QueryKey;
  refresh: QueryKey[];
  to: string;
  notice: () => string;
}) {
  const client = useQueryClient();
  const navigate = useNavigate();
  return useMutation({
    mutationFn,
    onSuccess: async () => {
      const text = notice();
      client.removeQueries({ queryKey: detailKey });
      for (const queryKey of refresh) await client.invalidateQueries({ queryKey });
      navigate(to, { state: { notice: text } });
    },
  });
}
