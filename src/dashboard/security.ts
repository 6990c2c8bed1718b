/**
 * Who may talk to the dashboard. It is a server on a shared machine, so:
 *
 * - **Token**: 24 random bytes, given once in the printed URL (`?token=`); the server answers with
 *   an HttpOnly, SameSite=Strict cookie and a redirect to the bare page, so the token leaves the
 *   address bar and scripts in the page never see it. Every page, asset and API request needs it.
 * - **Host header**: a page on another site that rebinds its own name to 127.0.0.1 (DNS
 *   rebinding) still sends its own name as Host; only the bound address (and `localhost` when
 *   that is a loopback address, or any IP literal when bound to all interfaces) is served.
 * - **State changes** (Stop) are POSTs with the token cookie, an `Origin` equal to the page's own,
 *   and a per-run request token in a header that only the page's own script can read (from the
 *   snapshot) and that a cross-site form cannot set.
 * - **CSP**: scripts and styles only from the server itself, no inline script, no network beyond it.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export class AccessControl {
  readonly token: string;
  /** Sent in the snapshot; the page echoes it in `X-Plateflow-Request` on state-changing requests. */
  readonly requestToken: string;
  readonly #host: string;
  #port = 0;

  constructor(host: string, token = randomBytes(24).toString('base64url')) {
    this.#host = host;
    this.token = token;
    this.requestToken = randomBytes(18).toString('base64url');
  }

  /** Set once the server listens (port 0 becomes the real port). */
  set port(port: number) {
    this.#port = port;
  }

  /** One cookie per port: two dashboards on one machine do not log each other out. */
  get cookieName(): string {
    return `plateflow_${this.#port}`;
  }

  setCookie(): string {
    return `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=/`;
  }

  hostAllowed(req: IncomingMessage): boolean {
    const header = req.headers.host;
    if (!header) return false;
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d+)$/.exec(header);
    if (!m || Number(m[3]) !== this.#port) return false;
    const name = (m[1] ?? m[2]!).toLowerCase();
    const bound = this.#host.toLowerCase();
    if (name === bound) return true;
    if (isLoopback(bound)) return name === 'localhost' || isLoopback(name);
    // Bound to every interface: any address literal reaches it, and no name a DNS answer could rebind.
    if (bound === '0.0.0.0' || bound === '::') return net.isIP(name) !== 0 || name === 'localhost';
    return false;
  }

  /** The token from the cookie, or from `?token=` (the printed URL). */
  authenticated(req: IncomingMessage, url: URL): 'cookie' | 'query' | undefined {
    if (sameSecret(cookieValue(req.headers.cookie, this.cookieName), this.token)) return 'cookie';
    if (sameSecret(url.searchParams.get('token') ?? undefined, this.token)) return 'query';
    return undefined;
  }

  /** A state-changing request from the page itself: its own Origin and the request token. */
  sameOriginWrite(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || origin !== `http://${req.headers.host}`) return false;
    const header = req.headers['x-plateflow-request'];
    return sameSecret(typeof header === 'string' ? header : undefined, this.requestToken);
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
