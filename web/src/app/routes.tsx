// Every page, loaded on demand so that the first load carries only the shell and the dashboard.
import { lazy } from "react";
import type { RouteObject } from "react-router-dom";

import { NotFound } from "../pages/NotFound";

const page = (load: () => Promise<{ default: React.ComponentType }>) => {
  const Component = lazy(load);
  return <Component />;
};

export const ROUTES: RouteObject[] = [
  { index: true, element: page(() => import("../pages/dashboard/DashboardPage")) },
  { path: "indicators", element: page(() => import("../pages/indicators/IndicatorsPage")) },
  { path: "indicators/:key", element: page(() => import("../pages/indicators/IndicatorPage")) },
  { path: "feeds", element: page(() => import("../pages/feeds/FeedsPage")) },
  { path: "feeds/new", element: page(() => import("../pages/feeds/FeedEditPage")) },
  { path: "feeds/:feed", element: page(() => import("../pages/feeds/FeedPage")) },
  { path: "alerts", element: page(() => import("../pages/alerts/AlertsPage")) },
  { path: "incidents", element: page(() => import("../pages/incidents/IncidentsPage")) },
  { path: "incidents/:incident", element: page(() => import("../pages/incidents/IncidentPage")) },
  { path: "watchlists", element: page(() => import("../pages/watchlists/WatchlistsPage")) },
  { path: "watchlists/:id", element: page(() => import("../pages/watchlists/WatchlistPage")) },
  { path: "rules", element: page(() => import("../pages/rules/RulesPage")) },
  { path: "rules/:id", element: page(() => import("../pages/rules/RulePage")) },
  { path: "ioc-collections", element: page(() => import("../pages/catalog/IocCollectionsPage")) },
  { path: "ioc-collections/:id", element: page(() => import("../pages/catalog/IocCollectionPage")) },
  { path: "actors", element: page(() => import("../pages/catalog/ActorsPage")) },
  { path: "actors/:id", element: page(() => import("../pages/catalog/ActorPage")) },
  { path: "campaigns", element: page(() => import("../pages/catalog/CampaignsPage")) },
  { path: "campaigns/:id", element: page(() => import("../pages/catalog/CampaignPage")) },
  { path: "attack", element: page(() => import("../pages/catalog/AttackMatrixPage")) },
  { path: "reports", element: page(() => import("../pages/catalog/ReportsPage")) },
  { path: "reports/:id", element: page(() => import("../pages/catalog/ReportPage")) },
  { path: "osint/collections", element: page(() => import("../pages/osint/CollectionsPage")) },
  { path: "osint/collections/:id", element: page(() => import("../pages/osint/CollectionPage")) },
  { path: "osint/entities", element: page(() => import("../pages/osint/EntitiesPage")) },
  { path: "osint/entities/:id", element: page(() => import("../pages/osint/EntityPage")) },
  { path: "osint/graph", element: page(() => import("../pages/osint/GraphPage")) },
  { path: "search", element: page(() => import("../pages/osint/SearchPage")) },
  { path: "admin/users", element: page(() => import("../pages/admin/UsersPage")) },
  { path: "admin/organizations", element: page(() => import("../pages/admin/OrganizationsPage")) },
  { path: "admin/roles", element: page(() => import("../pages/admin/RolesPage")) },
  { path: "admin/audit", element: page(() => import("../pages/admin/AuditPage")) },
  { path: "admin/config", element: page(() => import("../pages/admin/ConfigPage")) },
  { path: "profile", element: page(() => import("../pages/profile/ProfilePage")) },
  { path: "*", element: <NotFound /> },
];
