//! The self-contained reference page: one HTML document with inline CSS and script, no
//! external resources, that fetches the OpenAPI document and lists every operation.

/// The page; `schema_url` is where it fetches the document from.
pub fn render(schema_url: &str) -> String {
    let url = serde_json::Value::String(schema_url.to_string()).to_string();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sesame API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}}
h1{{font-size:1.6rem}} .op{{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}}
.m{{font-weight:700;display:inline-block;min-width:4rem}} .get{{color:#0a7}} .post{{color:#06c}}
code{{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}} table{{border-collapse:collapse;margin:.4rem 0}}
td,th{{border:1px solid #eee;padding:.2rem .5rem;text-align:left;font-size:.9rem}} .codes{{color:#a33;font-size:.85rem}}
</style></head>
<body><h1>Sesame API reference</h1><p id="server"></p><div id="ops">Loading…</div>
<script>
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({{"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}})[c]);
fetch({url}).then((r) => r.json()).then((doc) => {{
  document.getElementById("server").innerHTML = "Base URL: <code>" + esc(doc.servers[0].url) + "</code>";
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {{
    for (const [method, op] of Object.entries(item)) {{
      let html = '<div class="op"><span class="m ' + method + '">' + method.toUpperCase() + '</span> <code>' + esc(path) + '</code> — ' + esc(op.summary || "");
      const body = op.requestBody && op.requestBody.content["application/json"].schema;
      if (body && body.properties && Object.keys(body.properties).length) {{
        html += "<table><tr><th>field</th><th>type</th><th>required</th></tr>";
        for (const [name, s] of Object.entries(body.properties)) {{
          html += "<tr><td><code>" + esc(name) + "</code></td><td>" + esc([].concat(s.type).join(" | ")) + "</td><td>" + ((body.required || []).includes(name) ? "yes" : "") + "</td></tr>";
        }}
        html += "</table>";
      }}
      const codes = new Set();
      for (const resp of Object.values(op.responses)) {{
        const s = resp.content && resp.content["application/json"] && resp.content["application/json"].schema;
        for (const part of (s && s.allOf) || []) if (part.properties) for (const c of part.properties.code.enum) codes.add(c);
      }}
      if (codes.size) html += '<div class="codes">errors: ' + [...codes].map(esc).join(", ") + "</div>";
      out.push(html + "</div>");
    }}
  }}
  document.getElementById("ops").innerHTML = out.join("");
}}).catch((e) => {{ document.getElementById("ops").textContent = "Could not load the document: " + e; }});
</script></body></html>
"#
    )
}
