"""The print stylesheet of the day's PDF."""

PRINT_CSS = """
@page {
  size: A4;
  margin: 18mm 16mm 20mm 16mm;
  @bottom-left { content: string(doc-title); font-size: 8pt; color: #666; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; color: #666; }
}
html { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; line-height: 1.4; color: #111; }
body { margin: 0; overflow-wrap: break-word; }  /* 'anywhere' everywhere costs ~20% more layout time */
header.day h1 { font-size: 18pt; margin: 0 0 2pt 0; string-set: doc-title attr(data-title); }
header.day p.subtitle { margin: 0 0 12pt 0; color: #555; }
section.summary { border: 1pt solid #bbb; background: #f6f6f6; padding: 6pt 10pt; margin-bottom: 14pt; }
section.summary h2, h2.day-heading { font-size: 13pt; margin: 4pt 0; }
article.message { margin: 0 0 8pt 0; padding: 4pt 0 4pt 8pt; border-left: 3pt solid #9bbbe0; }
article.message.assistant { border-left-color: #b9d8a6; }
p.meta { margin: 0 0 2pt 0; font-size: 8.5pt; color: #444; break-after: avoid; }
p.meta .time { font-weight: bold; margin-right: 6pt; }
p.meta .speaker { font-weight: bold; }
.body p { margin: 0 0 4pt 0; }
.body h1, .body h2, .body h3, .body h4, .body h5, .body h6,
.summary h1, .summary h3, .summary h4, .summary h5, .summary h6 { font-size: 11pt; margin: 6pt 0 3pt 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f3f3; padding: 4pt 6pt;
      border: 0.5pt solid #ddd; font-size: 8.5pt; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; }
pre code { font-size: inherit; }
blockquote { margin: 2pt 0 4pt 0; padding-left: 8pt; border-left: 2pt solid #ccc; color: #333; }
table { border-collapse: collapse; margin: 4pt 0; max-width: 100%; }
th, td { border: 0.5pt solid #aaa; padding: 2pt 4pt; vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; }
a { color: #1a4f9c; }
img { max-width: 100%; max-height: 200mm; height: auto; }
figure.image { margin: 4pt 0; break-inside: avoid; }
p.image-note { font-style: italic; color: #555; margin: 2pt 0; }
p.empty, p.cut-off { color: #555; font-style: italic; }
"""

# A long day is laid out in parts, each without the page footer (PART_CSS); the footers
# are then laid out alone, one empty page each, with PRINT_CSS + FOOTER_CSS (the same
# @page boxes, font and colour as a single render) and stamped on the merged pages.
PART_CSS = "@page { @bottom-left { content: none; } @bottom-right { content: none; } }"
FOOTER_CSS = """
body { margin: 0; }
div.footer[data-title] { string-set: doc-title attr(data-title); }
div.footer + div.footer { break-before: page; }
"""
