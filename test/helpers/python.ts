/**
 * The project's Python (.venv from `npm run setup:py`) for the tests that read
 * the engine's files back with numpy. Outside CI a missing venv skips those
 * tests with the reason; in CI (CI=true) it fails, since .ci/run installs it
 * and a silent skip there would hide a broken install.
 */
import { projectPython, pythonProblem } from '../../src/cli/python.js';

export const PY = projectPython();
const problem = pythonProblem(PY, ['numpy']);
if (problem && process.env.CI) throw new Error(`CI needs the project's Python: ${problem}`);
if (problem) console.warn(`skipping numpy read-back checks: ${problem}`);
export const hasNumpy = problem === null;
