# Shell helpers shared by installers/quickstart and installers/linux/check-package (sourced, not run).

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "mailcaff installers: this step needs root: run as root or install sudo" >&2
        exit 1
    fi
}
