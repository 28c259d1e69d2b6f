/**
 * The Chromium the end-to-end tests drive: Debian's (or CHROMIUM_PATH's, see requireChromium),
 * launched by playwright-core and kept off the network (the background-networking flags).
 */
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { requireChromium } from './reference-tools.js';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireChromium(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
