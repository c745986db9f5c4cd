// /feeds/new: from a gallery template (?template=NAME) or by hand. Changing an existing feed
// happens on its page (the Edit tab), where its runs and a preview are at hand.
import { Anchor, Skeleton, Stack } from "@mantine/core";
import { Link, useNavigate } from "react-router-dom";

import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { EmptyState } from "../../components/EmptyState";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { CustomFeedForm } from "./CustomFeedForm";
import { TemplateFeedForm } from "./TemplateFeedForm";
import { useTemplates } from "./TemplateGallery";

function FromTemplate({ name }: { name: string }) {
  const templates = useTemplates();
  const template = templates.data?.find((item) => item.name === name);
  if (templates.isPending) return <Skeleton height={240} maw={640} />;
  if (templates.error) return <ProblemAlert error={templates.error} />;
  if (!template) {
    return (
      <EmptyState title="No such template">
        There is no template called “{name}”. Pick one in the{" "}
        <Anchor component={Link} to="/feeds?tab=templates">
          Templates gallery
        </Anchor>
        .
      </EmptyState>
    );
  }
  return <TemplateFeedForm template={template} />;
}

export default function FeedEditPage() {
  const [url] = useUrlState<"template">();
  const navigate = useNavigate();
  const auth = useAuth();
  const fromTemplate = url.template?.trim();
  return (
    <Stack gap="sm">
      <PageHeader
        title={fromTemplate ? "Add a feed from a template" : "Add a custom feed"}
        help={
          fromTemplate
            ? "The template knows the address, format and parsing rules; fill in what it needs."
            : "Any list, CSV, JSON, XML, STIX or MISP feed reachable over HTTP(S), with rules that say where the values are."
        }
      />
      <Can permission="write_intel">
        {fromTemplate ? (
          <FromTemplate name={fromTemplate} />
        ) : (
          <CustomFeedForm
            onSaved={(feed, message) => navigate(`/feeds/${encodeURIComponent(feed.id)}?tab=preview`, { state: { message } })}
            onCancel={() => navigate("/feeds")}
          />
        )}
      </Can>
      {!auth.can("write_intel") && (
        <EmptyState title="Adding feeds needs the analyst or admin role">
          Your account can read feeds but not add them.{" "}
          <Anchor component={Link} to="/feeds">
            Back to feeds
          </Anchor>
        </EmptyState>
      )}
    </Stack>
  );
}
