/**
 * A small XML reader for the instrument metadata files plateflow reads (Opera Phenix / Operetta
 * `Index.idx.xml`, MetaXpress TIFF descriptions): elements, attributes, text, CDATA, comments and
 * processing instructions, the five predefined entities and numeric character references.
 *
 * Deliberately not a general XML parser. A document type declaration is refused rather than
 * skipped: its entity declarations are what "billion laughs" and external-entity attacks ride on,
 * and instrument files never need one. Namespace prefixes are dropped from element and attribute
 * names (Harmony's files put everything in one default namespace, whose version changes between
 * releases), and `xmlns` attributes are not kept. The parser is a loop over an explicit stack,
 * so a deeply nested file cannot overflow the call stack.
 *
 * @module
 */

export interface XmlElement {
  /** Local name, prefix removed: `<h:Image>` → `Image`. */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** Character data directly inside this element (entities decoded), untrimmed. */
  readonly text: string;
}

/** Not well-formed (or uses a construct this reader refuses); `line` and `column` are 1-based. */
export class XmlSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(reason: string, line: number, column: number) {
    super(`${reason} (line ${line}, column ${column})`);
    this.name = 'XmlSyntaxError';
    this.line = line;
    this.column = column;
  }
}

/** Deeper than any instrument file; bounds memory on hostile input. */
const MAX_DEPTH = 256;

const NAME = /[A-Za-z_:][-A-Za-z0-9_.:\u00B7-\uFFFF]*/y;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

interface Building {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const localName = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

/**
 * The root element of `text`.
 *
 * @throws XmlSyntaxError for anything not well-formed, a DOCTYPE, or more than one root element.
 */
export function parseXml(text: string): XmlElement {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (reason: string, at = i): never => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    throw new XmlSyntaxError(reason, line, at - before.lastIndexOf('\n'));
  };
  const decode = (raw: string, at: number): string =>
    raw.includes('&')
      ? raw.replace(/&([^;&\s]*);?/g, (whole, ref: string, offset: number) => {
          if (!whole.endsWith(';')) fail(`unterminated entity reference "&${ref}"`, at + offset);
          if (ref in PREDEFINED) return PREDEFINED[ref]!;
          const m = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(ref);
          const code = m ? parseInt(m[1] ?? m[2]!, m[1] !== undefined ? 16 : 10) : NaN;
          if (!Number.isFinite(code) || code > 0x10ffff || code === 0) fail(`unknown entity "&${ref};" (only the predefined entities and character references are read)`, at + offset);
          return String.fromCodePoint(code);
        })
      : raw;
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const expectEnd = (marker: string, what: string): number => {
    const end = text.indexOf(marker, i);
    if (end < 0) fail(`unterminated ${what}`);
    return end;
  };

  const stack: Building[] = [];
  let root: XmlElement | undefined;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chars = text.slice(i, lt < 0 ? text.length : lt);
    if (chars !== '') {
      const top = stack[stack.length - 1];
      if (top) top.text += decode(chars, i);
      else if (chars.trim() !== '') fail('text outside the root element');
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      i = expectEnd('-->', 'comment') + 3;
    } else if (text.startsWith('<![CDATA[', i)) {
      const top = stack[stack.length - 1];
      if (!top) fail('CDATA outside the root element');
      const start = i + 9;
      const end = expectEnd(']]>', 'CDATA section');
      top!.text += text.slice(start, end);
      i = end + 3;
    } else if (text.startsWith('<!DOCTYPE', i) || text.startsWith('<!', i)) {
      fail('document type declarations are not supported (entities in them are never expanded)');
    } else if (text.startsWith('<?', i)) {
      i = expectEnd('?>', 'processing instruction') + 2;
    } else if (text.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (text[i] !== '>') fail(`expected ">" to close </${name}`);
      i++;
      const open = stack.pop();
      if (!open) fail(`closing tag </${name}> without an opening tag`);
      if (open!.name !== localName(name) && open!.name !== name) fail(`</${name}> closes <${open!.name}>`);
      const done: XmlElement = { name: open!.name, attributes: open!.attributes, children: open!.children, text: open!.text };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(done);
      else root = done;
    } else {
      i++;
      if (root !== undefined && stack.length === 0) fail('a second root element');
      const qname = readName();
      const attributes: Record<string, string> = {};
      for (;;) {
        const before = i;
        skipSpace();
        if (text.startsWith('/>', i) || text[i] === '>') break;
        if (i === before) fail(`expected whitespace, "/>" or ">" in <${qname}>`);
        const attr = readName();
        skipSpace();
        if (text[i] !== '=') fail(`attribute ${attr} of <${qname}> has no value`);
        i++;
        skipSpace();
        const quote = text[i];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attr} of <${qname}> is not quoted`);
        const end = text.indexOf(quote!, i + 1);
        if (end < 0) fail(`unterminated value of attribute ${attr}`);
        const raw = text.slice(i + 1, end);
        if (raw.includes('<')) fail(`"<" in the value of attribute ${attr}`, i + 1 + raw.indexOf('<'));
        if (attr !== 'xmlns' && !attr.startsWith('xmlns:')) attributes[localName(attr)] = decode(raw, i + 1);
        i = end + 1;
      }
      const element: Building = { name: localName(qname), attributes, children: [], text: '' };
      if (text.startsWith('/>', i)) {
        i += 2;
        const parent = stack[stack.length - 1];
        if (parent) parent.children.push(element);
        else root = element;
      } else {
        i++;
        if (stack.length >= MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH} levels`);
        stack.push(element);
      }
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]!.name}> is never closed`, text.length);
  if (root === undefined) fail('no root element', text.length);
  return root!;
}

/** The first child element called `name`. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** All child elements called `name`. */
export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

/** Trimmed text of the first child called `name`, or undefined when it is absent or empty. */
export function childText(element: XmlElement, name: string): string | undefined {
  const t = child(element, name)?.text.trim();
  return t === undefined || t === '' ? undefined : t;
}
