// The timeline of refresh-token expiries over the coming days, drawn as SVG
// by the page itself: one dot per connection at its expiry, coloured by
// status, with already expired ones in a column of their own on the left.

import type { Connection } from './data';
import { el, plainText, svg } from './dom';

export const HORIZON_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;

const DOT_R = 5;
const LEVEL = 13; // vertical distance between stacked dots
const MAX_LEVELS = 6; // a taller stack ends in a "+N"
const EXPIRED_ZONE = 58;
const PAD_X = 10;

interface Dot {
  conn: Connection;
  x: number;
  level: number;
}

// timeline draws the connections' refresh-token expiries at width pixels,
// seen from asOf (the server's clock), with the expiring window shaded. It
// returns the figure: the chart and a caption saying what it leaves out.
export function timeline(conns: Connection[], asOf: number, windowDays: number, width: number, dateText: (iso: string) => string): HTMLElement {
  const expired: Connection[] = [];
  const coming: { conn: Connection; days: number }[] = [];
  let later = 0;
  let never = 0;
  let unreadable = 0;
  for (const conn of conns) {
    if (conn.refreshState === 'never_expires') {
      never++;
      continue;
    }
    const at = conn.refreshExpiresAt === null ? NaN : Date.parse(conn.refreshExpiresAt);
    if (Number.isNaN(at)) {
      unreadable++;
      continue;
    }
    const days = (at - asOf) / DAY_MS;
    if (days <= 0) expired.push(conn);
    else if (days <= HORIZON_DAYS) coming.push({ conn, days });
    else later++;
  }

  const zone = expired.length > 0 ? EXPIRED_ZONE : 0;
  const x0 = PAD_X + zone;
  const x1 = Math.max(x0 + 120, width - PAD_X);
  const xOf = (days: number) => x0 + (Math.min(days, HORIZON_DAYS) / HORIZON_DAYS) * (x1 - x0);

  const dots = stack([
    ...expired.map((conn) => ({ conn, x: PAD_X + zone / 2 })),
    ...coming.sort((a, b) => a.days - b.days).map(({ conn, days }) => ({ conn, x: xOf(days) })),
  ]);
  const levels = Math.min(MAX_LEVELS, Math.max(1, ...dots.map((d) => d.level + 1)));
  const top = 18;
  const axisY = top + levels * LEVEL + 8;
  const height = axisY + 30;

  const chart = svg('svg', {
    class: 'timeline',
    width: String(x1 + PAD_X),
    height: String(height),
    viewBox: `0 0 ${x1 + PAD_X} ${height}`,
    role: 'img',
    'aria-label': summary(expired.length, coming.length, windowDays),
  });
  const windowEnd = xOf(Math.min(windowDays, HORIZON_DAYS));
  chart.append(
    svg('rect', { class: 'window', x: String(x0), y: String(top - 8), width: String(windowEnd - x0), height: String(axisY - top + 8) }),
    svg('line', { class: 'axis', x1: String(x0), y1: String(axisY), x2: String(x1), y2: String(axisY) }),
  );
  for (const day of [0, 30, 60, 90]) {
    const x = xOf(day);
    chart.append(
      svg('line', { class: 'tick', x1: String(x), y1: String(axisY), x2: String(x), y2: String(axisY + 5) }),
      svg('text', { class: 'tick-label', x: String(x), y: String(axisY + 18), 'text-anchor': day === 0 ? 'start' : day === 90 ? 'end' : 'middle' }, day === 0 ? 'today' : `+${day} d`),
    );
  }
  if (zone > 0) {
    chart.append(svg('text', { class: 'tick-label', x: String(PAD_X + zone / 2), y: String(axisY + 18), 'text-anchor': 'middle' }, 'expired'));
  }

  const overflow = new Map<number, number>();
  for (const dot of dots) {
    if (dot.level >= MAX_LEVELS) {
      overflow.set(dot.x, (overflow.get(dot.x) ?? 0) + 1);
      continue;
    }
    const when = dot.conn.refreshExpiresAt === null ? '' : dateText(dot.conn.refreshExpiresAt);
    chart.append(
      svg(
        'circle',
        { class: `dot ${dot.conn.status}`, cx: String(dot.x), cy: String(axisY - 10 - dot.level * LEVEL), r: String(DOT_R) },
        svg('title', {}, `${plainText(dot.conn.label)} (${plainText(dot.conn.providerLabel)}): ${when}`),
      ),
    );
  }
  for (const [x, n] of overflow) {
    chart.append(svg('text', { class: 'tick-label', x: String(x), y: String(top - 2), 'text-anchor': 'middle' }, `+${n}`));
  }

  const notShown = [
    later > 0 && `${later} after ${HORIZON_DAYS} days`,
    never > 0 && `${never} never expiring`,
    unreadable > 0 && `${unreadable} with an unreadable expiry`,
  ].filter(Boolean);
  const caption = el(
    'figcaption',
    {},
    `Refresh-token expiries over the next ${HORIZON_DAYS} days; shaded: the ${windowDays}-day expiring window.`,
    notShown.length > 0 && ` Not shown: ${notShown.join(', ')}.`,
  );
  return el('figure', { class: 'timeline-figure' }, chart, caption);
}

// stack gives each dot the lowest level at which it overlaps no dot already
// placed, so that close expiries pile up instead of hiding one another.
function stack(items: { conn: Connection; x: number }[]): Dot[] {
  const placed: Dot[] = [];
  for (const item of items) {
    let level = 0;
    while (placed.some((d) => d.level === level && Math.abs(d.x - item.x) < DOT_R * 2 + 2)) level++;
    placed.push({ ...item, level });
  }
  return placed;
}

function summary(expired: number, coming: number, windowDays: number): string {
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  return `Timeline of refresh-token expiries: ${n(expired, 'connection')} already expired, ${n(coming, 'connection')} expiring in the next ${HORIZON_DAYS} days; the expiring window is ${windowDays} days.`;
}
