/**
 * Recent packs in web mode on the real engine: every pack that becomes the
 * open one is listed in the Open pack… popover (newest first, kept across a
 * reload), one click reopens it, and a pack deleted since is greyed with the
 * engine's reason (`checkPacks`) instead of failing after the click.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACK, expect, test } from './fixtures.js';

test('recent packs: remembered, reopened with one click, a deleted one greyed with the reason', async ({ app }) => {
  test.setTimeout(40_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-e2e-recent-'));
  const copy = path.join(work, 'copy-of-tiny');
  fs.cpSync(PACK, copy, { recursive: true });
  try {
    await expect(app.getByTestId('pack-name')).toBeVisible({ timeout: 30_000 });
    await app.getByTestId('open-pack').click();
    const list = app.getByTestId('recent-packs');
    await expect(list.locator('li')).toHaveCount(1);
    await expect(list).toContainText(PACK);

    await app.getByPlaceholder('/path/to/pack').fill(copy);
    await app.getByRole('button', { name: 'Open', exact: true }).click();
    await expect(app.getByTestId('notices')).toContainText('Opened pack', { timeout: 30_000 });

    // Newest first, and still there after a reload.
    await app.reload();
    await expect(app.getByTestId('pack-name')).toBeVisible({ timeout: 30_000 });
    await app.getByTestId('open-pack').click();
    await expect(list.locator('li')).toHaveCount(2);
    await expect(list.locator('li').first()).toContainText(copy);
    await expect(list.locator('li[data-ok="no"]')).toHaveCount(0);
    await app.keyboard.press('Escape');

    // Deleted behind the app's back: greyed, with the engine's reason, and not clickable.
    fs.rmSync(copy, { recursive: true, force: true });
    await app.getByTestId('open-pack').click();
    const gone = list.locator('li[data-ok="no"]');
    await expect(gone).toHaveCount(1);
    await expect(gone).toContainText(copy);
    await expect(gone.locator('.recent-reason')).toHaveText(/\S/);
    await expect(gone.locator('.recent-reason')).toContainText('does not exist');
    await expect(gone.locator('.recent-pack')).toBeDisabled();

    // One click on the other reopens it.
    await list.locator('li[data-ok="yes"] .recent-pack').click();
    await expect(app.getByTestId('notices')).toContainText(`Opened pack`);
    await expect(app.getByTestId('recent-packs')).toHaveCount(0); // the popover closed

    // Forgetting removes an entry.
    await app.getByTestId('open-pack').click();
    await list.getByRole('button', { name: /^Forget .*copy-of-tiny/ }).click();
    await expect(list.locator('li')).toHaveCount(1);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
