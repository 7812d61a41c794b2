// What the page reads from list_oauth_connections' structured result. Every
// field is checked, because the page must show what it can of a result that
// is not quite the shape it knows (a newer server, a field Plannr left out)
// rather than fail. Strings that come from Plannr (labels, provider names,
// URLs, notes) stay strings here and are only ever shown as text.

import { isObject } from './host';

// The statuses the page groups by, in the order it shows them. A status the
// page does not know is shown as unknown.
export const STATUSES = ['needs_reauthorization', 'expiring', 'healthy', 'unknown'] as const;
export type Status = (typeof STATUSES)[number];

// Tool names the page may call besides the list tool.
export const RENAME_TOOL = 'rename_oauth_connection';
export const DELETE_TOOL = 'delete_oauth_connection';
export const LIST_TOOL = 'list_oauth_connections';

// SERVED_TOOLS_KEY is the _meta key of a list result that names the tools the
// server serves.
const SERVED_TOOLS_KEY = 'plannr-mcp/tools';

export interface Connection {
  uuid: string;
  label: string;
  providerName: string;
  providerLabel: string;
  status: Status;
  // refreshExpiresAt is the refresh token's expiry as Plannr's server
  // rendered it (RFC 3339), null when it never expires.
  refreshExpiresAt: string | null;
  // refreshDaysLeft is whole days to the refresh token's expiry, negative once
  // expired, null when it never expires or could not be read.
  refreshDaysLeft: number | null;
  refreshState: string;
  // reauthorizeURL is refresh_authorization_url when it is a plain http(s)
  // URL, exactly as sent; otherwise null and the page offers no link.
  reauthorizeURL: string | null;
}

export interface Unreadable {
  uuid: string;
  field: string;
  note: string;
}

export interface Listing {
  connections: Connection[];
  total: number;
  byStatus: Record<Status, number>;
  nextCursor: string | null;
  expiringWithinDays: number;
  // asOf is the server's clock at the time of the listing, in milliseconds.
  asOf: number;
  unreadable: Unreadable[];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

// parseListing reads a list result's structuredContent, or returns null when
// it is not a listing at all.
export function parseListing(content: unknown): Listing | null {
  if (!isObject(content) || !Array.isArray(content.connections)) return null;
  const counts = isObject(content.by_status) ? content.by_status : {};
  const byStatus = {} as Record<Status, number>;
  for (const s of STATUSES) byStatus[s] = Math.max(0, int(counts[s]) ?? 0);
  const asOf = Date.parse(str(content.as_of));
  return {
    connections: content.connections.filter(isObject).map(parseConnection).filter((c) => c.uuid !== ''),
    total: int(content.total) ?? content.connections.length,
    byStatus,
    nextCursor: typeof content.next_cursor === 'string' && content.next_cursor !== '' ? content.next_cursor : null,
    expiringWithinDays: int(content.expiring_within_days) ?? 14,
    asOf: Number.isNaN(asOf) ? Date.now() : asOf,
    unreadable: Array.isArray(content.unreadable)
      ? content.unreadable.filter(isObject).map((u) => ({ uuid: str(u.uuid), field: str(u.field), note: str(u.note) }))
      : [],
  };
}

function parseConnection(c: Record<string, unknown>): Connection {
  const provider = isObject(c.provider) ? c.provider : {};
  const health = isObject(c.health) ? c.health : {};
  const refresh = isObject(health.refresh_token) ? health.refresh_token : {};
  const status = str(health.status);
  return {
    uuid: str(c.uuid),
    label: str(c.label),
    providerName: str(provider.name),
    providerLabel: str(provider.label) || str(provider.name),
    status: (STATUSES as readonly string[]).includes(status) ? (status as Status) : 'unknown',
    refreshExpiresAt: typeof c.refresh_token_expires_at === 'string' ? c.refresh_token_expires_at : null,
    refreshDaysLeft: int(refresh.days_left),
    refreshState: str(refresh.state),
    reauthorizeURL: plainWebURL(str(c.refresh_authorization_url)),
  };
}

// servedTools reads the names of the tools the server serves from a list
// result's _meta. Without them the page offers listing only.
export function servedTools(meta: unknown): Set<string> {
  const names = isObject(meta) ? meta[SERVED_TOOLS_KEY] : undefined;
  return new Set(Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : []);
}

// plainWebURL returns s unchanged when it is an absolute http or https URL
// with a host and no user name or password, and holds no white space or
// invisible characters (which a URL parser would silently drop, so that the
// link opened would not be the text a person could read). Anything else is
// null: the page never repairs or builds a URL.
export function plainWebURL(s: string): string | null {
  if (s === '' || s.length > 4096 || /[\s\p{Cc}\p{Cf}]/u.test(s)) return null;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return null;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '' || url.username !== '' || url.password !== '') {
    return null;
  }
  return s;
}

// resultText is the text content of a tool result (a tool error says what
// went wrong there), for showing as is.
export function resultText(result: unknown): string {
  const content = isObject(result) && Array.isArray(result.content) ? result.content : [];
  return content
    .filter(isObject)
    .filter((c) => c.type === 'text')
    .map((c) => str(c.text))
    .join('\n')
    .trim();
}
