/**
 * Chat templates written for list-of-parts messages, made usable by an
 * engine that passes the user turn as one string.
 *
 * Why: llava-hf repositories ship the *processor's* template, where a message
 * is `{role, content: [{type: 'image'}, {type: 'text', text}]}` and the
 * template loops `message['content'] | selectattr('type', 'equalto', …)`.
 * TwinLens renders `content` as the string "<image>\n<question>" (the image
 * placeholder is expanded to the visual tokens later), so such a template
 * would drop the question silently. The importer recognises these templates
 * and writes the equivalent string-content template into pack.json for the
 * two conventions LLaVA models use (ChatML for Qwen-based models, the
 * Vicuna "USER: … ASSISTANT:" format for LLaVA-1.5); anything else is
 * reported so the user can set `llm.chatTemplate` themselves.
 */

export const CHATML_STRING_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export const VICUNA_STRING_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}USER: {{ message['content'] }} " +
  "{% elif message['role'] == 'assistant' %}ASSISTANT: {{ message['content'] }}{{ eos_token }} " +
  "{% else %}{{ message['content'] }} {% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}";

/** True when the template iterates or filters message content as a list of typed parts. */
export function expectsContentParts(template: string): boolean {
  return (
    /message\[['"]content['"]\]\s*\|\s*selectattr/.test(template) ||
    /for\s+\w+\s+in\s+message\[['"]content['"]\]/.test(template) ||
    /\[['"]type['"]\]\s*==\s*['"](?:text|image)['"]/.test(template)
  );
}

export interface TemplateChoice {
  /** A string-content template to put in pack.json, when one was derived. */
  template?: string;
  note?: string;
}

/** Decides what pack.json's llm.chatTemplate should be for a model's own template. */
export function compatibleTemplate(template: string | undefined): TemplateChoice {
  if (!template || !expectsContentParts(template)) return {};
  if (template.includes('<|im_start|>')) {
    return {
      template: CHATML_STRING_TEMPLATE,
      note: 'The model ships a list-of-parts (processor) chat template; pack.json uses the equivalent ChatML string template.',
    };
  }
  if (/USER:/.test(template) && /ASSISTANT:/.test(template)) {
    return {
      template: VICUNA_STRING_TEMPLATE,
      note: 'The model ships a list-of-parts (processor) chat template; pack.json uses the equivalent "USER: … ASSISTANT:" string template.',
    };
  }
  return {
    note: 'The chat template expects list-of-parts message content, which TwinLens does not pass; set llm.chatTemplate in pack.json to a string-content template.',
  };
}
