// The replay's report as a self-contained HTML page (`replay --report
// FILE.html`; contract report.md: "Markdown or HTML by extension"): the
// Markdown report (markdown.ts replayMarkdown) rendered by marked, in the
// page of every HTML report (page.ts htmlPage). One source of the report's
// content, so the two never differ. The Markdown is the tool's own: every
// text from a trace or configuration is in it through mdText, which
// backslash-escapes the characters of Markdown and HTML markup (`<`, `&`,
// backticks among them), and marked renders an escaped character as text;
// with autolinks off (below), nothing from the trace becomes markup.
import { Marked } from 'marked';
import type { Summary } from '../stats/summary.js';
import { htmlPage } from './page.js';
import { replayMarkdown, replayTitle } from './markdown.js';

// GFM for its tables; without its autolinks, which would make a link of a
// bare URL in a trace's text (mdText leaves `http://` as it is).
const marked = new Marked({ gfm: true, async: false, tokenizer: { url: () => undefined } });

export function replayHtml(s: Summary): string {
  const md = replayMarkdown(s);
  // The page gives the title its own heading: the Markdown's first line is that heading.
  const body = (marked.parse(md.slice(md.indexOf('\n') + 1)) as string)
    // Wide tables scroll inside their own box, as the sweep report's (htmlPage's .table-wrap).
    .replace(/<table>/g, '<div class="table-wrap"><table>')
    .replace(/<\/table>/g, '</table></div>');
  return htmlPage(replayTitle(s), '', [body]);
}
