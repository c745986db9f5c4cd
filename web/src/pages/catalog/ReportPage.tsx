// One threat report (or a new one at /reports/new): its content as plain text, never HTML;
// analysts edit it (?edit=1 keeps the editor open across a reload), publish and delete it.
import { Anchor, Button, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable } from "../../components/DataTable";
import { Time, Value } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { QueryFallback } from "../../components/QueryState";
import { Facts, Notice, PlainText, TlpBadge, useNotice } from "./common";
import { EditDeleteButtons } from "./EditDeleteButtons";
import { ReportEditor } from "./ReportEditor";
import { PublishedBadge, reportTypeLabel } from "./ReportsPage";

interface Attachment {
  index: number;
  name: string;
  media_type?: string | null;
  size_bytes?: number | null;
  sha256?: string | null;
  url?: string | null;
}

export default function ReportPage() {
  const { id = "" } = useParams();
  const isNew = id === "new";
  const navigate = useNavigate();
  const client = useQueryClient();
  const writer = useAuth().can("write_intel");
  const [url, set] = useUrlState<"edit">();
  const [notice, setNotice] = useNotice();
  const [deleting, setDeleting] = useState(false);
  const report = useQuery({
    queryKey: ["reports", id],
    queryFn: () => unwrap(api.GET("/api/v1/threat-reports/{report_id}", { params: { path: { report_id: id } } })),
    enabled: !isNew,
  });
  const publish = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/threat-reports/{report_id}/publish", { params: { path: { report_id: id } } })),
    onSuccess: async (saved) => {
      setNotice(`Published ${saved.title}.`);
      await client.invalidateQueries({ queryKey: ["reports"] });
    },
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/threat-reports/{report_id}", { params: { path: { report_id: id } } })),
    detailKey: ["reports", id],
    refresh: [["reports"]],
    to: "/reports",
    notice: () => `Deleted ${report.data?.title ?? "the report"}.`,
  });

  if (isNew) {
    return (
      <Stack gap="sm">
        <PageHeader title="New report" help="It is saved as a draft; publish it when it is ready." />
        {writer ? (
          <ReportEditor onCancel={() => navigate("/reports")}
            onSaved={(saved) => navigate(`/reports/${encodeURIComponent(saved.id)}`, { replace: true, state: { notice: `Saved the draft ${saved.title}.` } })} />
        ) : (
          <Text size="sm">Writing reports needs the analyst role.</Text>
        )}
      </Stack>
    );
  }
  if (!report.isSuccess) return <QueryFallback query={report} title="Threat report" />;
  const item = report.data;
  const editing = writer && url.edit === "1";
  const attachments: Attachment[] = item.attachments.map((raw, index) => {
    const record = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : { name: String(raw) };
    return {
      index,
      name: String(record.name ?? "—"),
      media_type: typeof record.media_type === "string" ? record.media_type : null,
      size_bytes: typeof record.size_bytes === "number" ? record.size_bytes : null,
      sha256: typeof record.sha256 === "string" ? record.sha256 : null,
      url: typeof record.url === "string" ? record.url : null,
    };
  });
  const referenced = item.indicators_referenced.map(String);
  return (
    <Stack gap="sm">
      <PageHeader
        title={item.title}
        help={`${item.report_type ? `${reportTypeLabel(item.report_type)} report` : "Report"} · ${item.classification} · ${item.published_at ? "published" : "draft"}`}
        actions={
          <Can permission="write_intel">
            {!item.published_at && (
              <Button onClick={() => publish.mutate()} loading={publish.isPending}>
                Publish
              </Button>
            )}
            <EditDeleteButtons onEdit={editing ? undefined : () => set({ edit: "1" })} onDelete={() => setDeleting(true)} />
          </Can>
        }
      />
      <Notice text={notice} />
      {publish.error ? <ProblemAlert error={publish.error} /> : null}
      {editing ? (
        <ReportEditor report={item} onCancel={() => set({ edit: undefined })}
          onSaved={(saved) => {
            set({ edit: undefined });
            setNotice(`Saved ${saved.title}.`);
          }} />
      ) : (
        <>
          <Facts caption="The report's properties" rows={[
            ["Status", <Group gap={6}><PublishedBadge at={item.published_at} /><Time value={item.published_at} /></Group>],
            ["Type", reportTypeLabel(item.report_type)],
            ["Classification", item.classification],
            ["Shared under", <TlpBadge value={item.tlp} />],
            ["Created", <Time value={item.created_at} />],
            ["Updated", <Time value={item.updated_at} />],
          ]} />
          <Title order={2} size="h4">
            Executive summary
          </Title>
          <PlainText text={item.executive_summary} empty="No summary." />
          <Title order={2} size="h4">
            Detailed analysis
          </Title>
          <Paper withBorder p="sm" radius="sm">
            <PlainText text={item.detailed_analysis} empty="No analysis written yet." />
          </Paper>
          <Title order={2} size="h4">
            Referenced indicators ({referenced.length})
          </Title>
          {referenced.length === 0 ? (
            <PlainText text={null} empty="The report refers to no indicator." />
          ) : (
            <Group gap="sm" wrap="wrap">
              {referenced.slice(0, 200).map((indicator) => (
                <Anchor key={indicator} component={Link} to={`/indicators/${encodeURIComponent(indicator)}`} size="sm">
                  <Value text={indicator} />
                </Anchor>
              ))}
              {referenced.length > 200 && <Text size="sm" c="dimmed">…and {referenced.length - 200} more.</Text>}
            </Group>
          )}
          <Title order={2} size="h4">
            Attachments ({attachments.length})
          </Title>
          <DataTable caption="Attachments" rows={attachments} rowKey={(row) => String(row.index)} empty="No attachments."
            columns={[
              { key: "name", header: "Name", render: (row) => <Value text={row.name} /> },
              { key: "type", header: "Media type", width: 160, render: (row) => row.media_type ?? "—" },
              { key: "size", header: "Size", width: 110, align: "right", render: (row) => (row.size_bytes === null || row.size_bytes === undefined ? "—" : `${row.size_bytes.toLocaleString()} B`) },
              { key: "sha256", header: "SHA-256", render: (row) => <Value text={row.sha256} max={20} /> },
              // Stored addresses are shown as text: a link built from data could lead anywhere.
              { key: "url", header: "Address", render: (row) => <Value text={row.url} max={50} /> },
            ]} />
        </>
      )}
      <ConfirmModal centered opened={deleting} title="Delete the report?" confirmLabel="Delete report" onConfirm={() => destroy.mutate()}
        onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
        {`${item.title} will be deleted. This cannot be undone.`}
      </ConfirmModal>
    </Stack>
  );
}
