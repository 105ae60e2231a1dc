#!/usr/bin/env node
// Writes spec/metaModel.json from protocol/ (build first). test/meta-model.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { buildMetaModel } from '@spyder-remote/protocol';

writeFileSync(new URL('../spec/metaModel.json', import.meta.url), `${JSON.stringify(buildMetaModel(), null, '\t')}\n`);
