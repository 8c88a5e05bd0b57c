// SPDX-License-Identifier: Apache-2.0
// The landing page: the language switch only (the pages ask for their own keys).
import { mountLangSwitch } from './i18n.js';

mountLangSwitch();
