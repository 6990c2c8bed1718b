/**
 * Escaping for the HTML report. Task ids, well names, file paths and error messages all come from
 * data (file names on a share, messages quoting them), so every piece of text goes through one of
 * these two functions before it reaches the page.
 *
 * @module
 */

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for element content or a quoted attribute value. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/**
 * JSON to embed in `<script type="application/json">`. Escaping `<` keeps a `</script>` inside a
 * string from closing the element early; U+2028/2029 are escaped for older JS parsers. The result
 * is still valid JSON with the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
