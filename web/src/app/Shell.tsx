// The frame around every page: navigation by area, the global search, the account menu.
import { Box, Burger, Group, Menu, NavLink, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useDisclosure, useHotkeys } from "@mantine/hooks";
import { Suspense, useRef, useState, type FormEvent } from "react";
import { Link, Outlet, useLocation, useNavigate } from "react-router-dom";

import { useAuth, type Permission } from "./auth";
import { PageSkeleton } from "../components/PageSkeleton";

interface Item {
  to: string;
  label: string;
  needs?: Permission;
}

export const NAVIGATION: { title: string; items: Item[] }[] = [
  { title: "Overview", items: [{ to: "/", label: "Dashboard" }] },
  {
    title: "Intelligence",
    items: [
      { to: "/indicators", label: "Indicators" },
      { to: "/feeds", label: "Feeds" },
      { to: "/watchlists", label: "Watchlists" },
      { to: "/rules", label: "Correlation rules" },
      { to: "/ioc-collections", label: "IOC collections" },
      { to: "/actors", label: "Threat actors" },
      { to: "/campaigns", label: "Campaigns" },
      { to: "/attack", label: "ATT&CK matrix" },
      { to: "/reports", label: "Threat reports" },
    ],
  },
  {
    title: "Detection",
    items: [
      { to: "/alerts", label: "Alerts" },
      { to: "/incidents", label: "Incidents" },
    ],
  },
  {
    title: "OSINT",
    items: [
      { to: "/osint/collections", label: "Collections" },
      { to: "/osint/entities", label: "Entities" },
      { to: "/osint/graph", label: "Graph explorer" },
      { to: "/search", label: "Search" },
    ],
  },
  {
    title: "Administration",
    items: [
      { to: "/admin/users", label: "Users", needs: "admin" },
      { to: "/admin/organizations", label: "Organizations", needs: "admin" },
      { to: "/admin/roles", label: "Roles", needs: "admin" },
      { to: "/admin/audit", label: "Audit log", needs: "admin" },
      { to: "/admin/config", label: "Configuration", needs: "admin" },
    ],
  },
];

function isActive(pathname: string, to: string): boolean {
  return to === "/" ? pathname === "/" : pathname === to || pathname.startsWith(`${to}/`);
}

export function Shell() {
  const [opened, { toggle, close }] = useDisclosure();
  const auth = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const [query, setQuery] = useState("");
  const searchInput = useRef<HTMLInputElement>(null);
  useHotkeys([["/", () => searchInput.current?.focus()]]);
  const search = (event: FormEvent) => {
    event.preventDefault();
    if (query.trim()) navigate(`/search?q=${encodeURIComponent(query.trim())}`);
  };
  return (
    // Our own grid, not the library's app shell: that one writes its sizes into a <style>
    // element at run time, which the CSP refuses.
    <div className="shell" data-nav-open={opened || undefined}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Box component="header" className="shell-header">
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text component={Link} to="/" fw={700} c="inherit" td="none">
              KRSN-RT2I
            </Text>
          </Group>
          <form onSubmit={search} role="search" aria-label="Search everything">
            <TextInput ref={searchInput} size="xs" w={320} placeholder="Search indicators, entities, documents  ( / )"
              aria-label="Search everything" value={query} onChange={(event) => setQuery(event.currentTarget.value)} />
          </form>
          <Menu position="bottom-end">
            <Menu.Target>
              <UnstyledButton aria-label="Account menu" fz="sm">
                {auth.me?.user.username} · {auth.me?.user.role}
              </UnstyledButton>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item component={Link} to="/profile">
                Profile, MFA and API keys
              </Menu.Item>
              <Menu.Item onClick={() => void auth.signOut().then(() => navigate("/"))}>Sign out</Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </Box>
      <Box component="nav" className="shell-nav" p="xs" aria-label="Main navigation">
        <>
          {NAVIGATION.map((section) => {
            const items = section.items.filter((item) => !item.needs || auth.can(item.needs));
            if (items.length === 0) return null;
            return (
              <div key={section.title}>
                <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" mt="sm" mb={2}>
                  {section.title}
                </Text>
                {items.map((item) => (
                  <NavLink key={item.to} component={Link} to={item.to} label={item.label} onClick={close}
                    active={isActive(location.pathname, item.to)}
                    aria-current={isActive(location.pathname, item.to) ? "page" : undefined} py={4} />
                ))}
              </div>
            );
          })}
        </>
      </Box>
      <Box component="main" id="main" className="shell-main" p="md">
        <Suspense fallback={<PageSkeleton />}>
          <Outlet />
        </Suspense>
      </Box>
    </div>
  );
}
