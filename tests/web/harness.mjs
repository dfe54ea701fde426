// Shared by the web tests: a real `weft node` process with its HTTP port,
// `weft cat`, headless Chromium (Debian's, driven by puppeteer-core), and
// waiting for conditions with generous deadlines (never fixed sleeps).
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const WEFT = process.env.WEFT_BINARY;
export const SITE = process.env.WEFT_WEB_SITE;
export const TRACES = process.env.WEFT_TRACES_DIR;
export const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Polls `pred` (sync or async) until it returns a truthy value, for at
// most `ms`; returns that value, or throws with `what`.
export async function waitFor(pred, what, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await pred();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// A free TCP port on 127.0.0.1 (for a node that must come back on the
// same one after a restart).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// A `weft node` with --http; resolves once both ports are known.
export class WeftNode {
  constructor({ data = tempDir('weft-web-node-'), tcpPort = 0, httpPort = 0, secretFile } = {}) {
    this.data = data;
    this.tcpPort = tcpPort;
    this.httpPort = httpPort;
    this.secretFile = secretFile;
    this.log = '';
  }

  async start() {
    const args = ['node', '--listen', `127.0.0.1:${this.tcpPort}`, '--data', this.data,
      '--http', `127.0.0.1:${this.httpPort}`];
    // Without the wasm build there is no site: the node serves the rest.
    if (SITE && fs.existsSync(SITE)) args.push('--web-root', SITE);
    if (this.secretFile) args.push('--secret-file', this.secretFile);
    this.proc = spawn(WEFT, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((r) => this.proc.on('exit', r));
    this.proc.stderr.on('data', (d) => { this.log += d; });
    const listening = waitFor(() => {
      const tcp = this.log.match(/listening on 127\.0\.0\.1:(\d+)/);
      const http = this.log.match(/serving HTTP on 127\.0\.0\.1:(\d+)/);
      if (!tcp || !http) return false;
      this.tcpPort = Number(tcp[1]);
      this.httpPort = Number(http[1]);
      return true;
    }, 'the node to listen');
    const exited = this.exited.then(() => { throw new Error(`weft node exited: ${this.log}`); });
    // Once listening, a later exit (stop()) is no error.
    exited.catch(() => {});
    await Promise.race([listening, exited]);
    return this;
  }

  url(query = '') { return `http://127.0.0.1:${this.httpPort}/${query}`; }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await this.exited;
  }
}

// The node's text of `doc`, through `weft cat` over TCP.
export function weftCat(node, doc) {
  const args = ['cat', '--connect', `127.0.0.1:${node.tcpPort}`, '--doc', doc];
  if (node.secretFile) args.push('--secret-file', node.secretFile);
  return new Promise((resolve, reject) => {
    execFile(WEFT, args, { encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`weft cat: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

// Headless Chromium with a fresh profile and no network but loopback.
export async function launchChromium() {
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = tempDir('weft-chromium-');
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

// Opens the editor on `doc` and waits until it says synced.
export async function openEditor(browser, node, doc, hash = '') {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { page.lastError = e; });
  await page.goto(node.url(`?doc=${encodeURIComponent(doc)}${hash}`));
  await waitForStatus(page, 'synced');
  return page;
}

export function status(page) {
  return page.$eval('#status', (e) => e.textContent);
}

export function waitForStatus(page, want, ms = 30000) {
  return waitFor(async () => (await status(page)) === want, `status ${want}`, ms);
}

export function editorText(page) {
  return page.$eval('#editor', (e) => e.value);
}

// Puts the caret at UTF-16 offset `pos` of the textarea.
export async function caretAt(page, pos) {
  await page.focus('#editor');
  await page.$eval('#editor', (e, p) => e.setSelectionRange(p, p), pos);
}
