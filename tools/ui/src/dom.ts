// Building the page. Everything that comes from Plannr or from the host is
// put into the document as text nodes or attribute values (setAttribute),
// never parsed as markup: a label such as <img src=x onerror=…> is shown as
// those characters.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined>;

// el creates an HTML element. attrs are set with setAttribute (true sets an
// empty attribute, false and undefined leave it out); string children become
// text nodes. Attribute names are always literals of this code.
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children) if (child) node.append(child);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

// svg creates an SVG element, as el does for HTML.
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  for (const child of children) if (child) node.append(child);
  return node;
}

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) node.setAttribute(name, '');
    else if (typeof value === 'string') node.setAttribute(name, value);
  }
}

// Characters that do not show, or that change how the text around them
// shows: controls, format characters (bidirectional overrides, zero-width
// spaces) and private-use characters. The server removes the same ones from
// the text it writes for the model.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}]/u;
const INVISIBLE_ALL = /[\p{Cc}\p{Cf}\p{Co}]/gu;

// plannrText renders a string from Plannr: as text, with every invisible
// character shown as a visible code such as U+202E, so that a person sees
// that the label holds one and no character can reorder or hide the rest.
export function plannrText(s: string): DocumentFragment {
  const out = document.createDocumentFragment();
  let run = '';
  for (const ch of s) {
    if (!INVISIBLE.test(ch)) {
      run += ch;
      continue;
    }
    if (run) out.append(run);
    run = '';
    const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    out.append(el('span', { class: 'hidden-char', title: `invisible character ${code}` }, code));
  }
  if (run) out.append(run);
  return out;
}

// plainText is s without invisible characters and with white space folded,
// for accessible names and for the starting value of a rename.
export function plainText(s: string): string {
  return s.replace(/\s+/g, ' ').replace(INVISIBLE_ALL, '').replace(/ {2,}/g, ' ').trim();
}
