// The editor page in real headless Chromium against a real `weft node`:
// two pages typing into one document at once, a page editing offline, a
// page and `weft cat` over TCP agreeing, and a node with a secret.
//
// Convergence is awaited with generous deadlines; how long it took after
// the last keystroke is printed (the target is 2 s), not asserted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { caretAt, editorText, freePort, launchChromium, openEditor, status, tempDir, waitFor,
  waitForStatus, weftCat, WeftNode } from './harness.mjs';

let browser;
before(async () => { browser = await launchChromium(); });
after(async () => { await browser?.close(); });

// Waits until both pages and the node hold one text; returns it and the
// milliseconds it took from `since`.
async function converged(pages, node, doc, since) {
  const text = await waitFor(async () => {
    const texts = await Promise.all(pages.map(editorText));
    if (texts.some((t) => t !== texts[0])) return false;
    if ((await weftCat(node, doc)) !== texts[0]) return false;
    return { value: texts[0] };
  }, 'the pages and the node to converge');
  return { text: text.value, ms: Date.now() - since };
}

test('two pages typing into one document at once converge, with weft cat', async () => {
  const node = await new WeftNode().start();
  try {
    const a = await openEditor(browser, node, 'together');
    const b = await openEditor(browser, node, 'together');
    await caretAt(a, 0);
    await a.keyboard.type('hello ');
    await waitFor(async () => (await editorText(b)) === 'hello ', 'b to see a');
    // Both type at once: a at the start, b at the end, then both in the
    // middle of what is there.
    await caretAt(b, 6);
    await Promise.all([
      a.keyboard.type('alpha beta gamma ', { delay: 5 }),
      b.keyboard.type('one two three four', { delay: 5 }),
    ]);
    await Promise.all([caretAt(a, 3), caretAt(b, 10)]);
    await Promise.all([a.keyboard.type('[a]', { delay: 5 }), b.keyboard.type('[b]', { delay: 5 })]);
    const { text, ms } = await converged([a, b], node, 'together', Date.now());
    console.log(`# two pages converged ${ms} ms after the last keystroke (target: 2000)`);
    // Every character typed, each once, whatever the interleaving.
    const sorted = (t) => [...t].sort().join('');
    assert.equal(sorted(text), sorted('hello alpha beta gamma one two three four[a][b]'));
    await waitForStatus(a, 'synced');
    await waitForStatus(b, 'synced');
    assert.equal(a.lastError, undefined);
    assert.equal(b.lastError, undefined);
  } finally {
    await node.stop();
  }
});

test('a page edits offline, reconnects and converges', async () => {
  const tcpPort = await freePort();
  const httpPort = await freePort();
  const data = tempDir('weft-web-offline-');
  let node = await new WeftNode({ data, tcpPort, httpPort }).start();
  try {
    const a = await openEditor(browser, node, 'offline');
    const b = await openEditor(browser, node, 'offline');
    await caretAt(a, 0);
    await a.keyboard.type('shared start. ');
    await waitFor(async () => (await editorText(b)) === 'shared start. ', 'b to see a');
    await node.stop();
    await waitFor(async () => (await status(a)) !== 'synced', 'a to notice the node is gone');
    // Edits while offline stay in the page.
    await caretAt(a, 14);
    await a.keyboard.type('written offline by a. ');
    await caretAt(b, 0);
    await b.keyboard.type('B offline: ');
    assert.notEqual(await status(a), 'synced');
    const since = Date.now();
    node = await new WeftNode({ data, tcpPort, httpPort }).start();
    await waitForStatus(a, 'synced');
    await waitForStatus(b, 'synced');
    const { text, ms } = await converged([a, b], node, 'offline', since);
    console.log(`# offline edits converged ${ms} ms after the node came back`);
    assert.equal(text, 'B offline: shared start. written offline by a. ');
  } finally {
    await node.stop();
  }
});

test('a page and weft cat agree on text outside the BMP; undo goes to the node', async () => {
  const node = await new WeftNode().start();
  try {
    const a = await openEditor(browser, node, 'unicode');
    await caretAt(a, 0);
    await a.keyboard.type('héllo 😀 wörld 𝄞!');
    await waitFor(async () => (await weftCat(node, 'unicode')) === 'héllo 😀 wörld 𝄞!', 'the node');
    // Delete the emoji by UTF-16 offsets (two units) and type after the clef.
    await a.$eval('#editor', (e) => e.setSelectionRange(6, 8));
    await a.keyboard.press('Backspace');
    await caretAt(a, 'héllo  wörld 𝄞'.length);
    await a.keyboard.type('♪');
    const want = 'héllo  wörld 𝄞♪!';
    await waitFor(async () => (await weftCat(node, 'unicode')) === want, 'the node to have the edits');
    assert.equal(await editorText(a), want);
    await a.keyboard.down('Control');
    await a.keyboard.press('z');
    await a.keyboard.up('Control');
    await waitFor(async () => (await weftCat(node, 'unicode')) === 'héllo  wörld 𝄞!', 'the undo');
    assert.equal(await editorText(a), 'héllo  wörld 𝄞!');
  } finally {
    await node.stop();
  }
});

test('a node with a secret: the page proves it, or asks for it', async () => {
  const dir = tempDir('weft-web-secret-');
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'correct horse\n');
  const node = await new WeftNode({ secretFile }).start();
  try {
    const ok = await openEditor(browser, node, 'private', '#secret=correct%20horse');
    await caretAt(ok, 0);
    await ok.keyboard.type('for members');
    await waitFor(async () => (await weftCat(node, 'private')) === 'for members', 'the node');

    const asks = await browser.newPage();
    await asks.goto(node.url('?doc=private'));
    await waitForStatus(asks, 'needs-secret');
    assert.equal(await editorText(asks), '');
    await asks.type('#secret', 'wrong horse');
    await asks.click('#secret-form button');
    await waitForStatus(asks, 'auth-failed');
    await asks.$eval('#secret', (e) => { e.value = ''; });
    await asks.type('#secret', 'correct horse');
    await asks.click('#secret-form button');
    await waitForStatus(asks, 'synced');
    assert.equal(await editorText(asks), 'for members');
  } finally {
    await node.stop();
  }
});
