#!/usr/bin/env bash
# Render a program's --help output as a simple man page, so the package's man
# pages can never disagree with the binaries they ship with.
#
#   bash udev/render-man.sh BIN SECTION SUMMARY [TAIL] > NAME.SECTION
#
# BIN must run on this machine (build-deb.sh passes host binaries when it
# packages a cross build). SUMMARY is the NAME line's text. The page has
# SYNOPSIS and OPTIONS from `BIN --help`, one subsection per subcommand
# (from `BIN SUB --help`) when the help lists Commands, and then the roff
# in the file TAIL (FILES, SEE ALSO, ...) if given.
set -euo pipefail

if [ "$#" -lt 3 ] || [ "$#" -gt 4 ]; then
    echo "usage: render-man.sh BIN SECTION SUMMARY [TAIL]" >&2
    exit 2
fi
bin=$1 section=$2 summary=$3 tail=${4:-}
name=$(basename "$bin")

# Text to roff: escape backslashes, keep a leading . or ' from reading as a
# request, and make - a real minus so options can be copied from the page.
roff() {
    sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/-/\\-/g'
}

# Clap's help: an about line, "Usage: ...", then "Commands:" and "Options:"
# blocks of aligned two-column lines, each ended by a blank line.
help=$("$bin" --help)
version=$("$bin" --version)
block() { # block TITLE: the lines after "TITLE:" up to the next blank line
    printf '%s\n' "$help" | awk -v t="$1:" '$0 == t {on = 1; next} on && /^$/ {exit} on'
}
usage=$(printf '%s\n' "$help" | sed -n 's/^Usage: //p')

upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
printf '.TH %s %s "" "%s" "T2 intertile stack"\n' "$upper" "$section" "$version"
printf '.SH NAME\n%s \\- %s\n' "$name" "$(printf '%s' "$summary" | roff)"
printf '.SH SYNOPSIS\n.nf\n%s\n.fi\n' "$(printf '%s\n' "$usage" | roff)"
printf '.SH DESCRIPTION\n%s\n' "$(printf '%s\n' "$help" | head -n 1 | roff)"

commands=$(block Commands)
if [ -n "$commands" ]; then
    printf '.SH COMMANDS\n.nf\n%s\n.fi\n' "$(printf '%s\n' "$commands" | roff)"
fi
printf '.SH OPTIONS\n.nf\n%s\n.fi\n' "$(block Options | roff)"

# Every subcommand but clap's own `help`, with its full help text.
if [ -n "$commands" ]; then
    printf '.SH "COMMAND DETAILS"\n'
    printf '%s\n' "$commands" | awk '{print $1}' | while read -r sub; do
        [ "$sub" = help ] && continue
        printf '.SS "%s %s"\n.nf\n%s\n.fi\n' "$name" "$sub" "$("$bin" "$sub" --help | roff)"
    done
fi

if [ -n "$tail" ]; then
    cat "$tail"
fi
