#!/usr/bin/env bash
# `make deps` (and so `make test`, and CI through it): the optional
# components some tests need. As root with apt-get, it installs the
# missing packages (busybox-static, QEMU, a kernel image); otherwise it
# says what is missing and which tests will skip for it. It also checks
# for a Docker daemon and the ../shared test data, which it cannot
# install. It never fails: a test without its component skips, loudly,
# and `make test` ends with a summary of the skips.
set -uo pipefail
cd "$(dirname "$0")/.."

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
kernel_pkg=linux-image-$arch

have_busybox() {
	# Static: no ELF interpreter (.interp sits in the first page).
	[ -f /bin/busybox ] && ! grep -qaE 'ld-linux|ld-musl' <(head -c 4096 /bin/busybox)
}
have_qemu() { command -v qemu-system-x86_64 >/dev/null 2>&1; }
have_promtool() { command -v promtool >/dev/null 2>&1; }
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_kernel() {
	local k
	for k in /boot/vmlinuz-*; do
		[ -r "$k" ] && [ -f "/lib/modules/${k#/boot/vmlinuz-}/modules.dep" ] && return 0
	done
	return 1
}
docker_error() {
	command -v docker >/dev/null 2>&1 || { echo "the docker CLI is not installed"; return; }
	local out
	out=$(timeout 20 docker version --format '{{.Server.Version}}' 2>&1) || echo "no daemon answers: $(tail -n 1 <<<"$out")"
}
have_shared() {
	compgen -G "../shared/testdata/nomad-jobspecs/*.hcl" >/dev/null && [ -d ../shared/testdata/github-webhooks ]
}

# missing_packages lists the installable components that are missing.
missing_packages() {
	have_busybox || echo busybox-static
	have_qemu || echo qemu-system-x86
	have_kernel || echo "$kernel_pkg"
	have_promtool || echo prometheus
	have_chromium || echo chromium
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing ${missing[*]} with apt-get (no recommends)"
	log=$(mktemp)
	export DEBIAN_FRONTEND=noninteractive
	install() { apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1; }
	if ! apt-get update -qq >"$log" 2>&1; then
		echo "deps: WARNING: apt-get update failed. Its last lines:" >&2
		tail -n 20 "$log" >&2
	elif install "${missing[@]}"; then
		echo "deps: installed ${missing[*]}"
	else
		# One package this distribution lacks must not stop the others.
		for p in "${missing[@]}"; do
			if install "$p"; then
				echo "deps: installed $p"
			else
				echo "deps: WARNING: apt-get could not install $p. Its last lines:" >&2
				tail -n 5 "$log" >&2
			fi
		done
	fi
	rm -f "$log"
	mapfile -t missing < <(missing_packages)
fi

report=()
for p in "${missing[@]}"; do
	case $p in
	busybox-static)
		report+=("busybox-static (a static /bin/busybox): the docker end-to-end test builds its image from it, the qemu tests their guest") ;;
	qemu-system-x86)
		report+=("qemu-system-x86 (qemu-system-x86_64): the qemu driver's tests (drivers/qemu) and the qemu end-to-end test") ;;
	"$kernel_pkg")
		report+=("$kernel_pkg (/boot/vmlinuz-* with its /lib/modules): the kernel the qemu tests boot their guest with") ;;
	prometheus)
		report+=("prometheus (promtool): the metrics tests' promtool check metrics of /v1/metrics") ;;
	chromium)
		report+=("chromium (headless): the web UI's browser test (TestWebUIInBrowser)") ;;
	esac
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		how="run 'make deps' as root on Debian (for example: sudo make deps), which installs them with apt-get; elsewhere install them with your package manager"
	else
		how="apt-get could not install them (see above)"
	fi
fi
docker_err=$(docker_error)
if [ -n "$docker_err" ]; then
	report+=("a Docker daemon ($docker_err): the docker driver's tests (drivers/docker) and the docker end-to-end test; start Docker Engine")
fi
if ! have_shared; then
	report+=("../shared/testdata (real-world job files and GitHub payloads, beside the repository, not in it): make corpus and the GitHub payload tests")
fi

if [ ${#report[@]} -eq 0 ]; then
	echo "deps: busybox-static, QEMU, a kernel image, promtool, a Docker daemon and ../shared/testdata are all here: no test skips for want of them"
	exit 0
fi
{
	echo "deps: WARNING: missing, so the tests that need them will SKIP (make test lists them at the end):"
	for r in "${report[@]}"; do
		echo "  - $r"
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "  To install ${missing[*]}: $how."
	fi
} >&2
exit 0
