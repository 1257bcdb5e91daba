# A Debian virtual machine under QEMU, with the group's ssh port forwarded
# to the guest's port 22 (QEMU user-mode networking, no host bridge).
#
# The disk image is Debian's official "nocloud" cloud image (root logs in
# on the console without a password; no cloud-init). Put it on the node,
# at the path image_path names:
#
#   sudo mkdir -p /var/lib/drover/images
#   sudo curl -fL -o /var/lib/drover/images/debian-12-nocloud-amd64.qcow2 \
#     https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-nocloud-amd64.qcow2
#
# The node needs qemu-system-x86_64 (Debian: apt-get install qemu-system-x86).
# The VM uses KVM where the node has it and software emulation (TCG, much
# slower) elsewhere; `drover node status` shows driver.qemu.kvm. The serial
# console is the task's log: `drover alloc logs <alloc> debian` shows the
# boot. Stopping the job presses the VM's power button, so Debian shuts
# down cleanly; kill_timeout bounds how long that may take.
job "vm-qemu" {
  datacenters = ["dc1"]
  type        = "service"

  group "vm" {
    count = 1

    network {
      port "ssh" {
        to = 22
      }
    }

    task "debian" {
      driver = "qemu"

      config {
        image_path        = "/var/lib/drover/images/debian-12-nocloud-amd64.qcow2"
        drive_interface   = "virtio"
        graceful_shutdown = true
        # Passed to qemu-system-x86_64 after the driver's own arguments.
        args = ["-smp", "2"]
      }

      resources {
        cpu    = 2000
        memory = 1024
      }

      kill_timeout = "60s"
    }
  }
}
