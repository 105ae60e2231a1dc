import type { Command } from '../command.js';
import { discover } from './discover.js';
import { envCreate, envInstall, envPackages, envRemove, envs, envUninstall } from './environments.js';
import { kernelAttach, kernelInterrupt, kernelList, kernelRestart, kernelStart, kernelStop } from './kernels.js';
import { login } from './login.js';
import { whoami } from './whoami.js';

/** Every `ssd` command, in the order `ssd --help` lists them. */
export const commands: readonly Command[] = [
	login,
	whoami,
	discover,
	envs,
	envPackages,
	envCreate,
	envRemove,
	envInstall,
	envUninstall,
	kernelStart,
	kernelList,
	kernelAttach,
	kernelInterrupt,
	kernelRestart,
	kernelStop,
];
