// The connection-health dashboard: the counts by status, a timeline of
// refresh-token expiries and the connections grouped by status, with
// filters that list again through the host and, per connection,
// Re-authorize, Rename and Delete. Every change goes through a tool of the
// server and through the host; the page itself requests nothing from the
// network.

import type { CallToolResult } from '@modelcontextprotocol/client';
import type { McpUiHostContext } from '@modelcontextprotocol/ext-apps';
import { type Connection, DELETE_TOOL, LIST_TOOL, type Listing, parseListing, RENAME_TOOL, resultText, servedTools, type Status, STATUSES } from './data';
import { el, plainText, plannrText } from './dom';
import { Host, HostError, isObject } from './host';
import { timeline } from './timeline';

const STATUS_TITLES: Record<Status, string> = {
  needs_reauthorization: 'Needs re-authorization',
  expiring: 'Expiring',
  healthy: 'Healthy',
  unknown: 'Unknown',
};

// The status filter's choices, as list_oauth_connections takes them.
const STATUS_FILTERS: [string, string][] = [
  ['', 'All statuses'],
  ['attention', 'Needs attention'],
  ['needs_reauthorization', STATUS_TITLES.needs_reauthorization],
  ['expiring', STATUS_TITLES.expiring],
  ['healthy', STATUS_TITLES.healthy],
];

// The page asks for the most connections a call may return, so that the
// timeline sees as many as it can.
const PAGE_LIMIT = 100;
const SEARCH_DELAY_MS = 400;

// RowState is what a connection's row shows besides the connection.
interface RowState {
  editing?: boolean;
  draft?: string;
  busy?: string;
  message?: { text: string; error: boolean };
}

const state = {
  canCallTools: false,
  canOpenLinks: false,
  // served names the tools the server serves, from the latest listing's _meta.
  served: new Set<string>(),
  listing: null as Listing | null,
  error: '',
  loading: false,
  filters: { provider: '', status: '', search: '' },
  // passThrough holds arguments of the call that opened the page that the
  // filters do not show (the expiring window, the sort), so that a listing
  // asked for by the page counts statuses the same way.
  passThrough: {} as Record<string, unknown>,
  // providers are the providers seen in any listing: name (lower case) to label.
  providers: new Map<string, string>(),
  rows: new Map<string, RowState>(),
  locale: undefined as string | undefined,
  timeZone: undefined as string | undefined,
  // seq numbers listings, so that an answer to an older request is dropped.
  seq: 0,
  // focusKey names the control to focus after the next render.
  focusKey: '',
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  asOf: $<HTMLParagraphElement>('as-of'),
  refresh: $<HTMLButtonElement>('refresh'),
  announce: $<HTMLParagraphElement>('announce'),
  error: $<HTMLParagraphElement>('error'),
  counts: $<HTMLElement>('counts'),
  provider: $<HTMLSelectElement>('provider'),
  status: $<HTMLSelectElement>('status'),
  search: $<HTMLInputElement>('search'),
  note: $<HTMLParagraphElement>('note'),
  timeline: $<HTMLElement>('timeline'),
  groups: $<HTMLElement>('groups'),
  shown: $<HTMLParagraphElement>('shown'),
  more: $<HTMLButtonElement>('more'),
};

let host: Host;

function main(): void {
  if (window.parent === window) {
    ui.error.textContent = 'This page is shown by an MCP host next to the list_oauth_connections tool; on its own it has nothing to show.';
    ui.error.hidden = false;
    return;
  }
  host = new Host(window.parent, {
    toolInput: setFiltersFrom,
    toolResult(result) {
      state.seq++; // the host's result replaces any listing the page asked for
      showResult(result, false);
      render();
    },
    toolCancelled(reason) {
      showError(`The listing was cancelled${reason ? `: ${reason}` : ''}.`);
    },
    contextChanged: applyContext,
  });
  for (const [value, title] of STATUS_FILTERS) ui.status.append(el('option', { value }, title));
  wireFilters();
  host.initialize().then(
    (init) => {
      state.canCallTools = isObject(init.hostCapabilities?.serverTools);
      state.canOpenLinks = isObject(init.hostCapabilities?.openLinks);
      applyContext(init.hostContext ?? {});
      reportSize();
      render();
    },
    (err) => showError(`The host did not start the dashboard: ${errorText(err)}`),
  );
}

// setFiltersFrom shows the arguments of the call that opened the page in the
// filters, and keeps the ones the filters do not show for later listings.
function setFiltersFrom(args: Record<string, unknown>): void {
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  state.filters = { provider: s(args.provider), status: s(args.status), search: s(args.label_contains) };
  state.passThrough = {};
  if (typeof args.expiring_within_days === 'number') state.passThrough.expiring_within_days = args.expiring_within_days;
  if (typeof args.sort === 'string') state.passThrough.sort = args.sort;
  ui.search.value = state.filters.search;
  renderFilters();
}

function wireFilters(): void {
  let timer = 0;
  const changed = () => {
    window.clearTimeout(timer);
    state.filters = { provider: ui.provider.value, status: ui.status.value, search: ui.search.value };
    void list();
  };
  ui.provider.addEventListener('change', changed);
  ui.status.addEventListener('change', changed);
  ui.search.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(changed, SEARCH_DELAY_MS);
  });
  ui.search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.isComposing) changed();
  });
  ui.refresh.addEventListener('click', () => void list());
  ui.more.addEventListener('click', () => {
    state.focusKey = 'more';
    void list(state.listing?.nextCursor ?? undefined);
  });
}

// list asks the host to call the list tool with the filters, or for the page
// after cursor, which it adds to the connections shown.
async function list(cursor?: string): Promise<void> {
  const seq = ++state.seq;
  const args: Record<string, unknown> = { limit: PAGE_LIMIT };
  if (cursor) {
    args.cursor = cursor;
  } else {
    Object.assign(args, state.passThrough);
    if (state.filters.provider) args.provider = state.filters.provider;
    if (state.filters.status) args.status = state.filters.status;
    if (state.filters.search.trim()) args.label_contains = state.filters.search.trim();
  }
  state.loading = true;
  renderBusy();
  try {
    const result = await host.callTool(LIST_TOOL, args);
    if (seq === state.seq) showResult(result, cursor !== undefined);
  } catch (err) {
    if (seq === state.seq) state.error = errorText(err);
  } finally {
    if (seq === state.seq) {
      state.loading = false;
      render();
    }
  }
}

function showResult(result: CallToolResult, append: boolean): void {
  const listing = result.isError ? null : parseListing(result.structuredContent);
  if (!listing) {
    state.error = resultText(result) || 'The answer holds no list of connections.';
    return;
  }
  state.served = servedTools(result._meta);
  if (append && state.listing) {
    const seen = new Set(state.listing.connections.map((c) => c.uuid));
    listing.connections = [...state.listing.connections, ...listing.connections.filter((c) => !seen.has(c.uuid))];
  }
  state.listing = listing;
  state.error = '';
  for (const c of listing.connections) if (c.providerName) state.providers.set(c.providerName.toLowerCase(), c.providerLabel);
}

// Per-connection actions.

function rowState(uuid: string): RowState {
  let rs = state.rows.get(uuid);
  if (!rs) state.rows.set(uuid, (rs = {}));
  return rs;
}

async function reauthorize(c: Connection): Promise<void> {
  const rs = rowState(c.uuid);
  try {
    // Exactly the URL Plannr sent (data.ts checked that it is plain http(s)).
    await host.openLink(c.reauthorizeURL!);
    rs.message = { text: 'Opened Plannr’s re-authorization page. When it is done, use Refresh to see the new expiry.', error: false };
  } catch (err) {
    rs.message = { text: `The link was not opened: ${errorText(err)}`, error: true };
  }
  renderGroups();
}

async function rename(c: Connection, value: string): Promise<void> {
  const rs = rowState(c.uuid);
  const name = plainText(c.label);
  rs.busy = 'Renaming…';
  rs.message = undefined;
  renderGroups();
  try {
    const result = await host.callTool(RENAME_TOOL, { uuid: c.uuid, label: value });
    rs.busy = undefined;
    if (result.isError) {
      rs.message = { text: resultText(result) || 'The connection was not renamed.', error: true };
      state.focusKey = `rename-input:${c.uuid}`;
      renderGroups();
      return;
    }
    const out = result.structuredContent;
    const label = isObject(out) && typeof out.label === 'string' ? out.label : value;
    state.rows.set(c.uuid, { message: { text: `Renamed to “${plainText(label)}”.`, error: false } });
    announce(`Renamed “${name}” to “${plainText(label)}”.`);
    state.focusKey = `rename:${c.uuid}`;
    await list();
  } catch (err) {
    rs.busy = undefined;
    rs.message = { text: errorText(err), error: true };
    renderGroups();
  }
}

// remove calls the delete tool, which asks the person to confirm through the
// host; the page waits for that answer and never asks or confirms itself.
async function remove(c: Connection): Promise<void> {
  const rs = rowState(c.uuid);
  rs.busy = 'Waiting for you to confirm the deletion…';
  rs.message = undefined;
  renderGroups();
  try {
    const result = await host.callTool(DELETE_TOOL, { uuid: c.uuid });
    rs.busy = undefined;
    const out = isObject(result.structuredContent) ? result.structuredContent : {};
    if (!result.isError && out.deleted === true) {
      state.rows.delete(c.uuid);
      announce(`Deleted “${plainText(c.label)}” (${plainText(c.providerLabel)}).`);
      state.focusKey = 'refresh';
      await list();
      return;
    }
    const text =
      out.outcome === 'declined' ? 'Not deleted: the deletion was declined.'
      : out.outcome === 'cancelled' ? 'Not deleted: the confirmation was cancelled.'
      : resultText(result) || 'The connection was not deleted.';
    rs.message = { text, error: result.isError === true };
  } catch (err) {
    rs.busy = undefined;
    rs.message = { text: errorText(err), error: true };
  }
  state.focusKey = `delete:${c.uuid}`;
  renderGroups();
}

// Rendering.

function render(): void {
  renderHeader();
  renderFilters();
  renderCounts();
  renderTimeline();
  renderGroups();
}

function renderBusy(): void {
  ui.groups.setAttribute('aria-busy', String(state.loading));
  ui.refresh.disabled = state.loading || !state.canCallTools;
  ui.more.disabled = state.loading;
}

function renderHeader(): void {
  const l = state.listing;
  ui.asOf.textContent = l
    ? `${l.total} connection${l.total === 1 ? '' : 's'} · as of ${formatDate(l.asOf, true)} · expiring = within ${l.expiringWithinDays} days`
    : 'Waiting for the list of connections…';
  ui.error.textContent = state.error;
  ui.error.hidden = state.error === '';
  renderBusy();
}

function renderFilters(): void {
  const f = state.filters;
  // A provider given by display name, or in another case, selects the
  // provider it names.
  const wanted = f.provider.toLowerCase();
  const match = [...state.providers].find(([name, label]) => name === wanted || label.toLowerCase() === wanted);
  const providers = [...state.providers].sort((a, b) => a[1].localeCompare(b[1]));
  if (f.provider && !match) providers.push([f.provider, f.provider]);
  ui.provider.replaceChildren(el('option', { value: '' }, 'All providers'), ...providers.map(([name, label]) => el('option', { value: name }, plainText(label) || name)));
  ui.provider.value = match ? match[0] : f.provider;
  ui.status.value = STATUS_FILTERS.some(([v]) => v === f.status) ? f.status : '';
  const off = !state.canCallTools;
  for (const control of [ui.provider, ui.status, ui.search]) control.disabled = off;
  ui.note.hidden = !off;
}

function renderCounts(): void {
  const l = state.listing;
  ui.counts.hidden = !l;
  if (!l) return;
  const shown = STATUSES.filter((s) => s !== 'unknown' || l.byStatus.unknown > 0);
  ui.counts.replaceChildren(
    ...shown.map((s) => el('div', { class: `tile ${s}` }, el('span', { class: 'n' }, String(l.byStatus[s])), el('span', { class: 't' }, STATUS_TITLES[s]))),
  );
}

let timelineWidth = 0;

function renderTimeline(): void {
  const l = state.listing;
  const section = ui.timeline.parentElement!;
  section.hidden = !l || l.connections.length === 0;
  if (section.hidden || !l) return;
  timelineWidth = Math.floor(ui.timeline.clientWidth) || 300;
  ui.timeline.replaceChildren(timeline(l.connections, l.asOf, l.expiringWithinDays, timelineWidth, (iso) => formatDate(Date.parse(iso), false)));
}

function renderGroups(): void {
  const l = state.listing;
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
  const key = state.focusKey || focused;
  state.focusKey = '';
  if (!l) {
    ui.groups.replaceChildren();
  } else if (l.connections.length === 0) {
    const filtered = state.filters.provider || state.filters.status || state.filters.search.trim();
    ui.groups.replaceChildren(el('p', { class: 'empty' }, filtered ? 'No connection matches these filters.' : 'The account has no OAuth connections.'));
  } else {
    const groups = STATUSES.map((s) => {
      const conns = l.connections.filter((c) => c.status === s);
      if (conns.length === 0) return null;
      const id = `group-${s}`;
      return el(
        'section',
        { class: `group ${s}`, 'aria-labelledby': id },
        el('h2', { id }, `${STATUS_TITLES[s]} (${conns.length})`),
        el('ul', { class: 'rows' }, ...conns.map(row)),
      );
    });
    ui.groups.replaceChildren(...[unreadableNotice(l), ...groups].filter((node) => node !== null));
  }
  ui.shown.textContent = l && l.connections.length > 0 ? `Showing ${l.connections.length} of ${l.total}.` : '';
  ui.more.hidden = !l?.nextCursor || !state.canCallTools;
  if (key) {
    for (const node of document.querySelectorAll<HTMLElement>('[data-key]')) {
      if (node.dataset.key === key) {
        node.focus();
        break;
      }
    }
  }
}

function unreadableNotice(l: Listing): HTMLElement | null {
  if (l.unreadable.length === 0) return null;
  const names = new Map(l.connections.map((c) => [c.uuid, c.label]));
  return el(
    'div',
    { class: 'notice', role: 'note' },
    el('p', {}, 'Plannr sent dates that could not be read; these connections count as unknown:'),
    el(
      'ul',
      {},
      ...l.unreadable.map((u) =>
        el('li', {}, el('span', { class: 'label', dir: 'auto' }, plannrText(names.get(u.uuid) ?? u.uuid)), ` · ${u.field}: `, plannrText(u.note)),
      ),
    ),
  );
}

function row(c: Connection): HTMLElement {
  const rs = state.rows.get(c.uuid) ?? {};
  const name = plainText(c.label) || 'the unnamed connection';
  const provider = plainText(c.providerLabel);
  const can = (tool: string) => state.canCallTools && state.served.has(tool) && !rs.busy;
  const button = (key: string, text: string, label: string, onClick: () => void, cls = '') => {
    const b = el('button', { type: 'button', class: cls, 'data-key': `${key}:${c.uuid}`, 'aria-label': label }, text);
    b.addEventListener('click', onClick);
    return b;
  };

  const reauth = c.reauthorizeURL
    ? state.canOpenLinks
      ? button('reauth', 'Re-authorize', `Re-authorize ${name} (${provider})`, () => void reauthorize(c), c.status === 'healthy' ? '' : 'primary')
      : el('span', { class: 'url' }, 'Re-authorize at ', el('span', { class: 'link-text' }, c.reauthorizeURL))
    : null;
  const actions = el(
    'div',
    { class: 'actions' },
    reauth,
    can(RENAME_TOOL) && !rs.editing && button('rename', 'Rename', `Rename ${name} (${provider})`, () => {
      state.rows.set(c.uuid, { editing: true, draft: plainText(c.label) });
      state.focusKey = `rename-input:${c.uuid}`;
      renderGroups();
    }),
    can(DELETE_TOOL) && button('delete', 'Delete', `Delete ${name} (${provider})`, () => void remove(c), 'danger'),
  );

  return el(
    'li',
    { class: `conn ${c.status}` },
    el('p', { class: 'label', dir: 'auto' }, c.label ? plannrText(c.label) : el('em', {}, 'no label')),
    el('p', { class: 'meta' }, el('span', { class: 'provider', dir: 'auto' }, plannrText(c.providerLabel)), ' · ', expiryText(c)),
    rs.editing && renameForm(c, rs, name),
    actions,
    rs.busy && el('p', { class: 'msg', role: 'status' }, rs.busy),
    rs.message && el('p', { class: rs.message.error ? 'msg error' : 'msg', role: rs.message.error ? 'alert' : 'status' }, rs.message.text),
  );
}

function renameForm(c: Connection, rs: RowState, name: string): HTMLElement {
  const input = el('input', {
    type: 'text',
    maxlength: '255',
    required: true,
    autocomplete: 'off',
    dir: 'auto',
    'aria-label': `New label for ${name}`,
    'data-key': `rename-input:${c.uuid}`,
  });
  input.value = rs.draft ?? '';
  input.disabled = Boolean(rs.busy);
  input.addEventListener('input', () => (rs.draft = input.value));
  const save = el('button', { type: 'button', class: 'primary', 'aria-label': `Save the new label for ${name}` }, 'Save');
  const cancel = el('button', { type: 'button', 'aria-label': `Cancel renaming ${name}` }, 'Cancel');
  save.disabled = cancel.disabled = Boolean(rs.busy);
  const close = () => {
    state.rows.set(c.uuid, {});
    state.focusKey = `rename:${c.uuid}`;
    renderGroups();
  };
  const submit = () => void rename(c, input.value);
  save.addEventListener('click', submit);
  cancel.addEventListener('click', close);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.isComposing) submit();
    else if (event.key === 'Escape') close();
  });
  return el('div', { class: 'rename', role: 'group', 'aria-label': `Rename ${name}` }, input, save, cancel);
}

function expiryText(c: Connection): string {
  if (c.refreshState === 'never_expires') return 'refresh token never expires';
  const at = c.refreshExpiresAt === null ? NaN : Date.parse(c.refreshExpiresAt);
  const d = c.refreshDaysLeft;
  if (d === null || Number.isNaN(at)) return 'refresh-token expiry could not be read';
  const date = formatDate(at, false);
  if (c.refreshState === 'expired' || d < 0) return `refresh token expired ${date} (${d === 0 ? 'today' : `${-d} day${d === -1 ? '' : 's'} ago`})`;
  return `refresh token expires ${date} (${d === 0 ? 'within a day' : `in ${d} day${d === 1 ? '' : 's'}`})`;
}

function formatDate(ms: number, withTime: boolean): string {
  const options: Intl.DateTimeFormatOptions = withTime ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' };
  try {
    return new Intl.DateTimeFormat(state.locale, { ...options, timeZone: state.timeZone }).format(ms);
  } catch {
    // A locale or time zone the browser does not know.
    return new Date(ms).toISOString().slice(0, withTime ? 16 : 10).replace('T', ' ');
  }
}

function announce(text: string): void {
  ui.announce.textContent = text;
}

function showError(text: string): void {
  state.error = text;
  renderHeader();
}

function errorText(err: unknown): string {
  return err instanceof HostError ? err.message : 'The host did not answer the request.';
}

// The host: theme, styles, locale and size.

function applyContext(ctx: McpUiHostContext): void {
  const root = document.documentElement;
  if (ctx.theme === 'light' || ctx.theme === 'dark') {
    root.dataset.theme = ctx.theme;
    root.style.colorScheme = ctx.theme;
  }
  // The host's CSS variables; the style sheet falls back to its own values
  // for any the host leaves out. They only ever feed colours, fonts, radii
  // and shadows, never a property that could load a URL.
  const vars = ctx.styles?.variables;
  if (isObject(vars)) {
    for (const [name, value] of Object.entries(vars)) {
      if (/^--[a-z0-9-]+$/.test(name) && typeof value === 'string') root.style.setProperty(name, value);
    }
  }
  if (typeof ctx.locale === 'string') state.locale = ctx.locale;
  if (typeof ctx.timeZone === 'string') state.timeZone = ctx.timeZone;
  // A fixed height fills the frame, and the page scrolls inside it; a
  // maximum bounds the height the page reports. The page always fills the
  // width it is given.
  const dims = ctx.containerDimensions;
  if (isObject(dims)) {
    root.style.height = 'height' in dims ? '100vh' : '';
    root.style.maxHeight = 'maxHeight' in dims && typeof dims.maxHeight === 'number' ? `${dims.maxHeight}px` : '';
    root.style.maxWidth = 'maxWidth' in dims && typeof dims.maxWidth === 'number' ? `${dims.maxWidth}px` : '';
  }
  const inset = ctx.safeAreaInsets;
  if (isObject(inset)) {
    for (const side of ['top', 'right', 'bottom', 'left'] as const) {
      if (typeof inset[side] === 'number') root.style.setProperty(`--inset-${side}`, `${inset[side]}px`);
    }
  }
  if (state.listing) render();
}

// reportSize tells the host the page's size whenever it changes, so that the
// host can fit its frame to it, and redraws the timeline for a new width.
function reportSize(): void {
  let sent = '';
  let queued = false;
  const measure = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const root = document.documentElement;
      const height = root.style.height;
      root.style.height = 'max-content';
      const h = Math.ceil(root.getBoundingClientRect().height);
      root.style.height = height;
      const w = Math.ceil(window.innerWidth);
      if (`${w}x${h}` !== sent) {
        sent = `${w}x${h}`;
        host.sizeChanged(w, h);
      }
      if (state.listing && Math.floor(ui.timeline.clientWidth) !== timelineWidth) renderTimeline();
    });
  };
  const observer = new ResizeObserver(measure);
  observer.observe(document.documentElement);
  observer.observe(document.body);
  measure();
}

main();
