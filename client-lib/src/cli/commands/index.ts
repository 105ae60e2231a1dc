import type { Command } from '../command.js';
import { login } from './login.js';
import { whoami } from './whoami.js';

/** Every `ssd` command, in the order `ssd --help` lists them. */
export const commands: readonly Command[] = [login, whoami];
