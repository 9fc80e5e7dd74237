// TS-engine side of the mini-world agreement check (run by training/twinlens_train/mini_world/agreement.py):
//   npx tsx training/scripts/ask_suite.ts PLAN.json OUT.json
// PLAN = { pack, modes: [...], items: [{ id, image (absolute), question }] }.
// One engine process answers every item with every mode (greedy, pack defaults) and
// writes { items: [{ id, answers: { mode: text } }], seconds }.
import * as fs from 'node:fs';
import { EngineClient } from '../../src/host/engine-client.js';

interface Plan {
  pack: string;
  modes: string[];
  items: Array<{ id: string; image: string; question: string }>;
}

async function main(): Promise<void> {
  const [planPath, outPath] = process.argv.slice(2);
  const plan = JSON.parse(fs.readFileSync(planPath, 'utf8')) as Plan;
  const t0 = Date.now();
  const client = await EngineClient.start({ packDir: plan.pack, provider: 'cpu' });
  const out: Array<{ id: string; answers: Record<string, string>; errors?: Record<string, string> }> = [];
  try {
    for (const it of plan.items) {
      const r = await client.call('ask', { image: { path: it.image }, question: it.question, modes: plan.modes });
      const answers: Record<string, string> = {};
      const errors: Record<string, string> = {};
      for (const [m, a] of Object.entries(r.answers)) {
        answers[m] = a.text;
        if (a.error) errors[m] = a.error.message;
      }
      out.push({ id: it.id, answers, ...(Object.keys(errors).length ? { errors } : {}) });
      if (out.length % 10 === 0) process.stderr.write(`${out.length}/${plan.items.length}\n`);
    }
  } finally {
    await client.dispose();
  }
  fs.writeFileSync(outPath, JSON.stringify({ items: out, seconds: (Date.now() - t0) / 1000 }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
