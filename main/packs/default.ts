/** The pack the product runs when none is named: the bundled demonstration ensemble. */
import { resourcePath } from '../resources/index.js';

export const DEFAULT_PACK = resourcePath('models', 'packs', 'demo');
