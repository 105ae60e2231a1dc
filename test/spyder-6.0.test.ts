import test from 'ava';
import { testSpyderInRoot } from './helpers/spyder-in-root.js';

testSpyderInRoot(test, '6.0');
