import json

def _c(v):
    return json.dumps(v, separators=(", ", ": "), ensure_ascii=False)

def _scalar(v):
    return not isinstance(v, (list, dict))

def dumps(v, indent=0, width=110):
    """JSON for humans: short values on one line; expressions laid out as operator + operands,
    with match/case/step/interpolate label-output pairs sharing a line; scalar lists packed."""
    compact = _c(v)
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if len(compact) + len(pad) <= width or _scalar(v) or not v:
        return compact
    if isinstance(v, dict):
        items = [inner + json.dumps(k, ensure_ascii=False) + ": " + dumps(x, indent + 1, width) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if all(_scalar(x) for x in v):
        lines, cur = [], ""
        for x in v:
            t = _c(x)
            if cur and len(inner) + len(cur) + len(t) + 2 > width:
                lines.append(cur)
                cur = ""
            cur = cur + ", " + t if cur else t
        lines.append(cur)
        return "[\n" + ",\n".join(inner + l for l in lines) + "\n" + pad + "]"
    op = v[0] if isinstance(v[0], str) else None
    head = {"match": 2, "interpolate": 3, "step": 3, "case": 1, "let": 1}.get(op)
    if head:
        lines = [_c(x) if len(_c(x)) + len(inner) <= width else dumps(x, indent + 1, width) for x in v[:head]]
        rest = v[head:]
        # pairs (label/condition/stop, output) and a trailing fallback
        if op == "let":
            pairs, tail = [rest[i:i + 2] for i in range(0, len(rest) - 1, 2)], rest[-1:]
        elif op in ("match", "case"):
            pairs, tail = [rest[i:i + 2] for i in range(0, len(rest) - 1, 2)], rest[-1:]
        elif op == "step":
            pairs, tail = [rest[i:i + 2] for i in range(0, len(rest), 2)], []
        else:
            pairs, tail = [rest[i:i + 2] for i in range(0, len(rest), 2)], []
        for p in pairs:
            if len(p) == 1:
                lines.append(dumps(p[0], indent + 1, width))
                continue
            one = ", ".join(_c(x) for x in p)
            if len(inner) + len(one) <= width:
                lines.append(one)
            else:
                lines.append(",\n".join([_c(p[0]) if len(_c(p[0])) + len(inner) <= width else dumps(p[0], indent + 1, width),
                                         inner + dumps(p[1], indent + 1, width)]))
        for t in tail:
            lines.append(dumps(t, indent + 1, width))
        return "[\n" + ",\n".join(inner + l for l in lines) + "\n" + pad + "]"
    items = [dumps(x, indent + 1, width) for x in v]
    return "[\n" + ",\n".join(inner + i for i in items) + "\n" + pad + "]"
