#!/bin/sh
# Mutation testing of the decision core with mutmut 3, in a scratch copy of the checkout, so that
# the mutmut configuration (written into the copy's pyproject.toml) never touches the project's.
#
#   tests/mutation/run.sh [MODULE [TESTS...]]      e.g. tests/mutation/run.sh binding tests/test_binding.py
#
# Prints mutmut's results; then re-checks each surviving mutant in a fresh process
# (`mutmut run <name>`), since a mutant that survives only through shared state is not a survivor.
set -eu
module="${1:-binding}"
shift 2>/dev/null || true
tests="${*:-tests/test_binding.py}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-/work/venv/bin/python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mutmut-${module}.XXXXXX")"
cd "$here"
git ls-files -z | xargs -0 -I{} cp --parents {} "$work"
cp --parents tests/mutation/run.sh "$work" 2>/dev/null || true
cd "$work"
{
    printf '\n[tool.mutmut]\n'
    printf 'source_paths = ["restricted_sessions/"]\n'
    printf 'only_mutate = ["restricted_sessions/%s.py"]\n' "$module"
    printf 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore"]\n'
    printf 'pytest_add_cli_args_test_selection = [%s]\n' "$(printf '"%s",' $tests | sed 's/,$//')"
} >> pyproject.toml
"$python" -m mutmut run || true
"$python" -m mutmut results > results.txt || true
echo "work directory: $work"
cat results.txt
for mutant in $(grep ': survived' results.txt | sed 's/:.*//; s/^ *//'); do
    "$python" -m mutmut run "$mutant" > /dev/null 2>&1 || true
done
"$python" -m mutmut results | grep -c ': survived' || true
