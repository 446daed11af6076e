"""docs/manual.md stays in step with the module: every directive, log id and OCSP
verdict name the source defines is documented, and the manual documents no
directive the module does not accept. Reads files only; starts no httpd."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANUAL = ROOT / "docs" / "manual.md"
MODULE = ROOT / "module"
DIRECTIVES_CC = MODULE / "httpd" / "directives.cc"
OCSP_RESPONSE_CC = MODULE / "core" / "ocsp_response.cc"
OCSP_RESPONSE_H = MODULE / "core" / "ocsp_response.h"


def rel(path):
    """`path` relative to the repository root, for messages."""
    try:
        return path.relative_to(ROOT)
    except ValueError:
        return path


def strip_cxx_comments(text):
    """The source without // and /* */ comments; string and character literals
    are kept as they are (a // inside a string is not a comment)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def module_directives():
    """Names of the kDirectives entries: AP_INIT_*("Name", ...) macros or the
    file's own command_rec builders (take1("Name", ...), take12, take_argv, raw_args)."""
    source = strip_cxx_comments(DIRECTIVES_CC.read_text())
    table = re.search(r"\bkDirectives\s*\[\s*\]\s*=\s*\{(.*?)\n\};", source, re.S)
    assert table, f"no kDirectives table found in {DIRECTIVES_CC}"
    body = table.group(1)
    names = re.findall(r"\b(?:AP_INIT_[A-Z0-9_]+|take\w*|raw_args)\s*\(\s*\"([^\"]+)\"", body)
    # Every entry but the terminating command_rec{} must have been recognised.
    entries = re.findall(r"\b\w+\s*\(\s*\"", body)
    assert len(names) == len(entries), (
        f"kDirectives has {len(entries)} entries but only {len(names)} were recognised: "
        "teach module_directives() the new entry form")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"directives listed twice in kDirectives: {duplicates}"
    assert "GnuTLSEnable" in names, names
    return set(names)


def manual_sections():
    """{level-2 heading text: section body} of the manual."""
    sections = {}
    current = None
    in_fence = False
    for line in MANUAL.read_text().splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def section(name):
    sections = manual_sections()
    assert name in sections, f"docs/manual.md has no '## {name}' section (has: {sorted(sections)})"
    return sections[name]


def level3_headings(text):
    headings = []
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("### "):
            headings.append(line[4:].strip())
    return headings


def documented_directives():
    """Every '### ' heading of the Directives section: each must be a directive name."""
    return set(level3_headings(section("Directives")))


def module_log_ids():
    ids = set()
    for path in MODULE.rglob("*"):
        if path.suffix in {".cc", ".h", ".cpp", ".hpp"}:
            ids.update(re.findall(r"\bGTLS\d{4}\b", path.read_text()))
    assert ids, f"no GTLSnnnn ids found under {MODULE}"
    return ids


def verdict_names():
    """The names verdict_name() returns for each OcspVerdictCode."""
    source = strip_cxx_comments(OCSP_RESPONSE_CC.read_text())
    function = re.search(r"verdict_name\s*\(\s*OcspVerdictCode\s+\w+\s*\)\s*noexcept\s*\{(.*?)\n\}", source, re.S)
    assert function, f"verdict_name() not found in {OCSP_RESPONSE_CC}"
    names = dict(re.findall(r"case\s+OcspVerdictCode::(\w+)\s*:\s*return\s+\"([^\"]+)\"", function.group(1)))
    enum = re.search(r"enum\s+class\s+OcspVerdictCode\s*\{(.*?)\};",
                     strip_cxx_comments(OCSP_RESPONSE_H.read_text()), re.S)
    assert enum, f"enum OcspVerdictCode not found in {OCSP_RESPONSE_H}"
    codes = re.findall(r"\b([A-Z]\w*)\b", enum.group(1))
    assert set(codes) == set(names), (
        f"verdict_name() and OcspVerdictCode disagree: without a name {sorted(set(codes) - set(names))}, "
        f"named but not in the enum {sorted(set(names) - set(codes))}")
    return set(names.values())


def test_every_directive_has_a_heading_and_no_heading_is_extra():
    in_module = module_directives()
    in_manual = documented_directives()
    missing = sorted(in_module - in_manual)
    extra = sorted(in_manual - in_module)
    assert in_module == in_manual, (
        f"docs/manual.md Directives section is out of step with {rel(DIRECTIVES_CC)}: "
        f"missing '### Name' headings for {missing}; headings for directives the module does not have: {extra}")


def test_directive_headings_are_unique():
    headings = level3_headings(section("Directives"))
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    assert not repeated, f"directives documented twice: {repeated}"


def test_every_directive_entry_has_syntax_context_default_since():
    text = section("Directives")
    chunks = re.split(r"^### ", text, flags=re.M)[1:]
    incomplete = {}
    for chunk in chunks:
        name, _, body = chunk.partition("\n")
        name = name.strip()
        lacking = [field for field in ("Syntax:", "Context:", "Default:", "Since: 0.1.0") if field not in body]
        if f"`{name}" not in body.split("Context:")[0]:
            lacking.append(f"a Syntax line starting with `{name}")
        if lacking:
            incomplete[name] = lacking
    assert not incomplete, f"directive entries lacking fields: {incomplete}"


def test_every_log_id_is_in_the_log_id_table():
    table = section("Log ids")
    rows = set(re.findall(r"^\|\s*`?(GTLS\d{4})`?\s*\|", table, re.M))
    missing = sorted(module_log_ids() - rows)
    assert not missing, f"log ids used in module/ but missing from the manual's log-id table: {missing}"


def test_log_id_table_has_no_unknown_ids():
    table = section("Log ids")
    rows = set(re.findall(r"^\|\s*`?(GTLS\d{4})`?\s*\|", table, re.M))
    unknown = sorted(rows - module_log_ids())
    assert not unknown, f"the manual's log-id table lists ids the module never logs: {unknown}"


def test_every_ocsp_verdict_is_documented():
    stapling = section("OCSP stapling")
    missing = sorted(name for name in verdict_names() if f"`{name}`" not in stapling)
    assert not missing, f"OCSP verdict names defined in {rel(OCSP_RESPONSE_CC)} " \
                        f"but not documented in the manual's OCSP stapling section: {missing}"


def test_default_priorities_are_documented_as_compiled():
    header = (ROOT / "module/core/priorities.h").read_text()
    body = header.split("kDefaultPriorities =", 1)[1].split(";", 1)[0]
    default = "".join(re.findall(r'"([^"]*)"', body))
    assert default.startswith("NORMAL:"), body
    for document in (MANUAL, ROOT / "README.md"):
        assert f"`{default}`" in document.read_text(), f"{rel(document)} does not show the default priorities {default}"
