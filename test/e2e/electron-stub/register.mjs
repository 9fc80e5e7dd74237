// `node --import ./register.mjs dist/main/main.js`: the real main process under the stand-in.
import { register } from 'node:module';

register('./loader.mjs', import.meta.url);
