"""The page's one stylesheet, and the filter rules generated for this report's sections.

Filters are CSS only (no script): a checkbox per grade and a radio per section sit before the page's
content, and `:checked ~ main …` rules hide what is filtered out. The page's Content-Security-Policy
admits exactly this stylesheet by its hash, so no injected style or script could run.
"""

from __future__ import annotations

from collections.abc import Sequence

STYLE = """
:root{--bg:#f3f4f7;--panel:#fff;--ink:#1b2230;--muted:#5d6677;--line:#dde1e8;--code:#eef0f4;
--L1:#c62828;--L1bg:#fdecea;--L2:#d46b00;--L2bg:#fff3e0;--L3:#3d6fb6;--L3bg:#e8f0fb;
--good:#2e7d32;--fair:#d49b00;--poor:#c62828;--new:#6d28d9;--cmdbg:#111827;--cmdink:#e5e7eb;
--sans:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans","DejaVu Sans",sans-serif,
"Noto Sans CJK SC","PingFang SC","Microsoft YaHei";
--mono:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
@media (prefers-color-scheme:dark){:root{--bg:#0f131a;--panel:#171c25;--ink:#e3e7ee;--muted:#98a2b3;
--line:#2a3240;--code:#222a36;--L1bg:#3a1717;--L2bg:#3a2810;--L3bg:#14243b;--cmdbg:#05070b}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 var(--sans)}
body>.summary,body>main,body>footer{max-width:1240px;margin-inline:auto;padding:0 20px}
h2{font-size:15px;margin:0 0 10px}h3{font-size:13px;margin:10px 0 4px;color:var(--muted)}
h4{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:14px 0 4px}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
a{color:inherit;text-decoration:none}
.muted{color:var(--muted);font-weight:400}.small{font-size:12px}
.flt{position:absolute;opacity:0;width:1px;height:1px;pointer-events:none}
.top{background:#161c27;color:#f1f4f9;padding:18px 20px 16px}
.top .in{max-width:1200px;margin:0 auto;display:flex;flex-wrap:wrap;gap:4px 24px;align-items:baseline}
.top h1{font-size:20px;margin:0;font-weight:650}.top h1 .host{color:#9fc1ff}
.top .head{color:#c9d1de}.top .worst{font-weight:600}
.top .worst.L1{color:#ff8a80}.top .worst.L2{color:#ffb74d}.top .worst.L3{color:#9fc1ff}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:14px;margin-top:16px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 16px;min-width:0}
.notices,.fixedlist,.mlps{grid-column:1/-1}
ul.urgent{list-style:none;margin:0;padding:0}ul.urgent a{display:block;padding:3px 4px;border-radius:4px;overflow-wrap:anywhere}
ul.urgent a:hover{background:var(--code)}ul.urgent .badge{margin-right:4px}
.tallies{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}
.tally{border-radius:6px;padding:8px 10px;display:flex;flex-direction:column;border-top:4px solid}
.tally .n{font-size:30px;font-weight:700;line-height:1.1}.tally .g{font-weight:650}.tally .m{font-size:12px;color:var(--muted)}
.tally.L1{background:var(--L1bg);border-color:var(--L1)}.tally.L1 .n{color:var(--L1)}
.tally.L2{background:var(--L2bg);border-color:var(--L2)}.tally.L2 .n{color:var(--L2)}
.tally.L3{background:var(--L3bg);border-color:var(--L3)}.tally.L3 .n{color:var(--L3)}
.delta{margin:12px 0 0;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
dl.facts.inline{display:flex;flex-wrap:wrap;gap:4px 6px;margin:6px 0 10px;font-size:12.5px}
dl.facts.inline dt{color:var(--muted)}dl.facts.inline dd{margin:0 10px 0 0;font-family:var(--mono)}
.rows{display:flex;flex-direction:column;gap:5px}
.rows .row{display:grid;grid-template-columns:minmax(7em,38%) 1fr minmax(3.6em,auto);gap:10px;align-items:center;
padding:2px 4px;border-radius:4px}
a.row:hover{background:var(--code)}
.row .k{overflow-wrap:anywhere}.row .v{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;font-weight:600}
.row .sub{display:block;font-size:11.5px;color:var(--muted)}.row .zh{color:var(--muted);font-size:12px}
.mlps .rows{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:6px 36px}
.mlps .rows .row{grid-template-columns:minmax(9em,46%) 1fr minmax(3.6em,auto)}
svg.bar{width:100%;height:10px;display:block;border-radius:3px;overflow:hidden}
.track{fill:var(--code)}.fill.L1{fill:var(--L1)}.fill.L2{fill:var(--L2)}.fill.L3{fill:var(--L3)}
.fill.good{fill:var(--good)}.fill.fair{fill:var(--fair)}.fill.poor{fill:var(--poor)}
.v.good{color:var(--good)}.v.fair{color:var(--fair)}.v.poor{color:var(--poor)}
.legend{float:right;display:flex;gap:6px;font-weight:400}
.key{font-size:11.5px;display:inline-flex;align-items:center;gap:4px;color:var(--muted)}
.key::before{content:"";width:9px;height:9px;border-radius:2px;display:inline-block;background:currentColor}
.key.L1::before{background:var(--L1)}.key.L2::before{background:var(--L2)}.key.L3::before{background:var(--L3)}
ul.notes{margin:0;padding-left:18px}ul.notes li{margin:3px 0;overflow-wrap:anywhere}
.tag{display:inline-block;background:var(--code);border-radius:4px;padding:0 6px;font-size:12px;margin-right:4px}
nav.filters{position:sticky;top:0;z-index:5;background:var(--bg);border-bottom:1px solid var(--line);margin-top:16px}
nav.filters .in{max-width:1200px;margin:0 auto;padding:8px 20px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
nav .grp{display:flex;flex-wrap:wrap;gap:5px;align-items:center}nav .lbl{color:var(--muted);font-size:12px;margin-right:2px}
nav label{cursor:pointer;user-select:none;border:1px solid var(--line);background:var(--panel);border-radius:999px;
padding:2px 10px;font-size:12.5px;opacity:.55}
nav label b{font-weight:600;margin-left:3px;font-variant-numeric:tabular-nums}
nav label.L1{border-color:var(--L1)}nav label.L2{border-color:var(--L2)}nav label.L3{border-color:var(--L3)}
main{padding-bottom:30px}
section.scanner{margin-top:22px}
section.scanner>header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px;border-bottom:2px solid var(--line);
padding-bottom:4px;margin-bottom:6px}
section.scanner>header h2{margin:0;font-size:18px}
.count{background:var(--code);border-radius:999px;padding:0 8px;font-size:13px;font-weight:600;vertical-align:2px}
.counts{display:flex;gap:8px}.about{margin:0;color:var(--muted);flex-basis:100%;font-size:12.5px}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
.card{background:var(--panel);border:1px solid var(--line);border-left:4px solid var(--L3);border-radius:6px;margin:6px 0}
.card.L1{border-left-color:var(--L1)}.card.L2{border-left-color:var(--L2)}
.card>details>summary{display:grid;grid-template-columns:auto minmax(0,1fr) auto auto;gap:2px 10px;align-items:start;
padding:8px 12px;cursor:pointer;list-style:none}
.card>details>summary::-webkit-details-marker{display:none}
.card>details>summary::after{content:"▸";grid-column:4;grid-row:1;color:var(--muted);transition:transform .15s}
.card>details>summary>.badge{grid-column:1;grid-row:1;justify-self:start}.card>details>summary>.what{grid-column:2;grid-row:1/span 2}
.card>details[open]>summary::after{transform:rotate(90deg)}
.card>details[open]>summary{border-bottom:1px solid var(--line)}
.badge{display:inline-block;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:700;color:#fff;background:var(--L3)}
.badge.L1{background:var(--L1)}.badge.L2{background:var(--L2)}
.card>details>summary>.st{grid-row:2;grid-column:1;justify-self:start}
.st{display:inline-block;border-radius:4px;padding:0 6px;font-size:11.5px;font-weight:600;border:1px solid}
.st.new{color:var(--new)}.st.open{color:var(--muted)}.st.fixed{color:var(--good)}
.what{display:flex;flex-direction:column;min-width:0}
.msg{font-weight:600;overflow-wrap:anywhere}
.where{font-family:var(--mono);font-size:12px;color:var(--muted);overflow-wrap:anywhere}
.rid{grid-column:3;grid-row:1;padding-top:2px;font-family:var(--mono);font-size:11px;color:var(--muted);max-width:22em;
overflow:hidden;text-overflow:ellipsis;white-space:nowrap;justify-self:end}
.body{padding:4px 14px 14px}
.body .title{margin:8px 0 0;color:var(--muted)}
.fix p{margin:0}
pre.cmd{background:var(--cmdbg);color:var(--cmdink);padding:8px 12px;border-radius:6px;user-select:all;overflow-x:auto}
.cmd .w{white-space:nowrap}
code.cmd{background:var(--code);border-radius:4px;padding:1px 5px;user-select:all}
ul.items{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px}
.ih{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline;font-size:12.5px}
.ih .loc{font-family:var(--mono);font-weight:600}.ih time,.ih .ids,.ih .note{color:var(--muted);font-size:12px}
.ih .ids{font-family:var(--mono)}
pre.val{background:var(--code);padding:6px 10px;border-radius:4px;margin-top:2px;max-height:14em;overflow:auto}
dl.kv{display:grid;grid-template-columns:minmax(9em,max-content) minmax(0,1fr);gap:2px 14px;margin:0;font-size:12.5px}
dl.kv dt{color:var(--muted);font-family:var(--mono);overflow-wrap:anywhere}
dl.kv dd{margin:0;font-family:var(--mono);white-space:pre-wrap;overflow-wrap:anywhere;max-height:12em;overflow:auto}
.pairs{display:flex;flex-wrap:wrap;gap:0 14px}.pk{color:var(--muted)}
.tw{overflow-x:auto;max-width:100%}table.vt{border-collapse:collapse;margin:2px 0 4px;white-space:normal}
table.vt th{text-align:left;color:var(--muted);font-weight:500;border-bottom:1px solid var(--line);padding:1px 12px 1px 0;
white-space:nowrap}
table.vt td{padding:1px 12px 1px 0;vertical-align:top;white-space:pre-wrap;overflow-wrap:break-word}
ol.vals{margin:0;padding:0;list-style-position:inside}.clauses{margin:10px 0 0}
details.raw{margin-top:12px}details.raw>summary{cursor:pointer;color:var(--muted);font-size:12.5px}
details.raw pre{background:var(--code);padding:8px 10px;border-radius:4px;margin-top:4px;max-height:28em;overflow:auto}
ul.sources{list-style:none;margin:4px 0 10px;padding:0;font-size:12.5px}
.sources li{margin:2px 0;overflow-wrap:anywhere}.sources .path{font-family:var(--mono);font-weight:600;margin-right:6px}
.anchor{display:block;scroll-margin-top:120px}
footer{color:var(--muted);font-size:12px;margin-bottom:30px}
@media (max-width:640px){
body>.summary,body>main,body>footer{padding:0 10px}
.top{padding:14px 12px}.top h1{font-size:17px}
.summary{grid-template-columns:minmax(0,1fr)}
nav.filters{position:static}nav.filters .in{padding:8px 10px}
.card>details>summary{padding:8px 10px;grid-template-columns:auto minmax(0,1fr)}
.card>details>summary::after,.rid{display:none}.anchor{scroll-margin-top:70px}
.body{padding:4px 10px 12px}
dl.kv{grid-template-columns:minmax(5em,36%) minmax(0,1fr);gap:3px 10px}
.rows .row,.mlps .rows .row{grid-template-columns:minmax(0,44%) 1fr minmax(3em,auto);gap:6px}
.tally .n{font-size:24px}
}
@media print{nav.filters{display:none}.card{break-inside:avoid}}
"""


def filter_css(grades: Sequence[str], sections: Sequence[str], new_only: bool) -> str:
    """Rules for this page's filter inputs (ids `g-L1`, `s-all`, `s-<slug>`, `only-new`).

    Grades are checkboxes (unchecked hides that grade's cards), sections a radio group (one
    section or all), `only-new` keeps the cards new since the previous scan."""
    hide = [f"#g-{g}:not(:checked)~main .card.{g}" for g in grades]
    hide += [f"#s-{s}:checked~main .scanner:not(#sec-{s})" for s in sections]
    inputs = [f"g-{g}" for g in grades] + ["s-all"] + [f"s-{s}" for s in sections]
    if new_only:
        hide.append("#only-new:checked~main .card:not(.new)")
        inputs.append("only-new")
    on = ",".join(f"#{i}:checked~nav label[for={i}]" for i in inputs)
    focus = ",".join(f"#{i}:focus-visible~nav label[for={i}]" for i in inputs)
    return (",".join(hide) + "{display:none}\n" + on + "{opacity:1;box-shadow:inset 0 0 0 1px currentColor}\n"
            + focus + "{outline:2px solid var(--L3);outline-offset:1px}\n")
