/**
 * LLM folders whose chat template expects list-of-parts messages (the
 * llava-hf processor templates): recognised, replaced in pack.json by the
 * equivalent string-content template, and the composed pack renders a prompt
 * that still contains the question and the image placeholder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHATML_STRING_TEMPLATE, VICUNA_STRING_TEMPLATE, compatibleTemplate, expectsContentParts } from '../../../src/engine/importers/chat-template-compat.js';
import { readLlmFolder } from '../../../src/engine/importers/llm-folder.js';
import { ChatTemplate } from '../../../src/engine/llm/chat-template.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';

const FAM = path.resolve('test/fixtures/families/llava-qwen-transformersjs');
const WORK = path.resolve('.cache', `test-chat-template-${process.pid}`);
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

// The shape of llava-hf/llava-interleave-qwen-0.5b-hf's processor template.
const PARTS_CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + '<|im_end|>\\n' }}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const PARTS_VICUNA =
  "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\\n{% endif %}{% endfor %}{% endif %}{% endfor %}ASSISTANT:";

describe('list-of-parts chat templates', () => {
  it('recognises them and picks the string-content equivalent', () => {
    expect(expectsContentParts(PARTS_CHATML)).toBe(true);
    expect(expectsContentParts(PARTS_VICUNA)).toBe(true);
    expect(expectsContentParts(CHATML_STRING_TEMPLATE)).toBe(false);
    expect(compatibleTemplate(PARTS_CHATML).template).toBe(CHATML_STRING_TEMPLATE);
    expect(compatibleTemplate(PARTS_VICUNA).template).toBe(VICUNA_STRING_TEMPLATE);
    expect(compatibleTemplate("{% for p in message['content'] %}{{ p['text'] }}{% endfor %}")).toEqual({
      note: expect.stringMatching(/set llm\.chatTemplate/),
    });
    expect(compatibleTemplate(undefined)).toEqual({});
  });

  it('rewrites the template of an LLM folder and renders the question', async () => {
    const dir = path.join(WORK, 'llm');
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    for (const f of fs.readdirSync(FAM, { recursive: true }) as string[]) {
      const src = path.join(FAM, f);
      if (fs.statSync(src).isFile() && f !== 'tokenizer_config.json') fs.linkSync(src, path.join(dir, f));
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(FAM, 'tokenizer_config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, chat_template: PARTS_CHATML }));
    const llm = await readLlmFolder(dir);
    expect(llm.chatTemplate).toBe(CHATML_STRING_TEMPLATE);
    expect(llm.notes.join(' ')).toMatch(/list-of-parts/);
    const tok = await TextTokenizer.load(path.join(dir, 'tokenizer.json'), path.join(dir, 'tokenizer_config.json'));
    const rendered = ChatTemplate.resolve(llm.chatTemplate, tok).render([{ role: 'user', content: '<image>\nwhat colour is the circle' }]);
    expect(rendered).toBe('<|im_start|>user\n<image>\nwhat colour is the circle<|im_end|>\n<|im_start|>assistant\n');
  });
});
