"""`procledger completion bash|zsh`: shell completion generated from the argparse parser."""

from __future__ import annotations

import argparse
import shlex
import sys

from procledger.entrypoints.cli.support import Command

Table = dict[str, list[str]]


def completion_tables(parser: argparse.ArgumentParser) -> tuple[Table, Table]:
    """Per command path ("procledger", "procledger events status"): the words that may follow
    it, and per "path|--option" the option's choices."""
    words: Table = {}
    choices: Table = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        here: list[str] = []
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    here.append(name)
                    walk(child, f"{path} {name}")
            elif action.option_strings:
                long = [o for o in action.option_strings if o.startswith("--")]
                here.extend(long or action.option_strings)
                if action.choices:
                    for option in action.option_strings:
                        choices[f"{path}|{option}"] = [str(c) for c in action.choices]
            elif action.choices:
                here.extend(str(c) for c in action.choices)  # a positional with choices
        words[path] = here

    walk(parser, parser.prog)
    return words, choices


def _assoc(name: str, table: Table) -> str:
    pairs = " ".join(f"[{shlex.quote(k)}]={shlex.quote(' '.join(v))}" for k, v in table.items())
    return f"{name}=({pairs})"


def bash_script(parser: argparse.ArgumentParser) -> str:
    words, choices = completion_tables(parser)
    return f"""# bash completion for procledger (generated: procledger completion bash)
_procledger() {{
    local -A _pl_words _pl_choices
    {_assoc("_pl_words", words)}
    {_assoc("_pl_choices", choices)}
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} path=procledger i next
    for ((i = 1; i < COMP_CWORD; i++)); do
        next="$path ${{COMP_WORDS[i]}}"
        [[ -n ${{_pl_words[$next]+set}} ]] && path=$next
    done
    if [[ -n ${{_pl_choices[$path|$prev]+set}} ]]; then
        COMPREPLY=($(compgen -W "${{_pl_choices[$path|$prev]}}" -- "$cur"))
        return
    fi
    # Nothing matched (a FILE argument): -o default falls back to file names.
    COMPREPLY=($(compgen -W "${{_pl_words[$path]}}" -- "$cur"))
}}
complete -o default -F _procledger procledger
"""


def zsh_script(parser: argparse.ArgumentParser) -> str:
    words, choices = completion_tables(parser)
    return f"""#compdef procledger
# zsh completion for procledger (generated: procledger completion zsh)
_procledger() {{
    local -A _pl_words _pl_choices
    {_assoc("_pl_words", words)}
    {_assoc("_pl_choices", choices)}
    local path=procledger next i
    for ((i = 2; i < CURRENT; i++)); do
        next="$path ${{words[i]}}"
        (( ${{+_pl_words[$next]}} )) && path=$next
    done
    local key="$path|${{words[CURRENT-1]}}"
    if (( ${{+_pl_choices[$key]}} )); then
        compadd -- ${{=_pl_choices[$key]}}
        return
    fi
    compadd -- ${{=_pl_words[$path]}}
    _files
}}
compdef _procledger procledger
"""


def run(args: argparse.Namespace) -> int:
    from procledger.entrypoints.cli.main import build_parser  # noqa: PLC0415 - the parser includes this command

    parser = build_parser()
    sys.stdout.write(bash_script(parser) if args.shell == "bash" else zsh_script(parser))
    return 0


COMPLETION = Command(
    "completion",
    "print a shell completion script (bash or zsh)",
    "Prints a completion script generated from this command's own options. bash: "
    "`procledger completion bash > ~/.local/share/bash-completion/completions/"
    "procledger` (or `source <(procledger completion bash)` in ~/.bashrc). zsh: "
    '`procledger completion zsh > "${fpath[1]}/_procledger"`, then `compinit`.',
    "procledger.entrypoints.cli.completion:run",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    completion = COMPLETION.add_to(sub)
    completion.add_argument("shell", choices=("bash", "zsh"))
