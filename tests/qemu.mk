# SPDX-License-Identifier: GPL-2.0-or-later
# Hypervisor driver tests (hv-common, hv-qemu), the QEMU boot integration
# test, and the demo guest image.
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-hv-common tests/unit/test-hv-qemu \
	tests/integration/qemu-boot-vms
TESTS += tests/unit/test-hv-common tests/unit/test-hv-qemu \
	tests/integration/qemu-boot.sh
tests_unit_test_hv_common_SOURCES = tests/unit/test-hv-common.c
tests_unit_test_hv_common_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_hv_common_LDADD = $(TEST_LIBS)
tests_unit_test_hv_qemu_SOURCES = tests/unit/test-hv-qemu.c
tests_unit_test_hv_qemu_CFLAGS = $(TEST_CFLAGS) -pthread
tests_unit_test_hv_qemu_LDADD = $(TEST_LIBS) -lpthread
tests_integration_qemu_boot_vms_SOURCES = tests/integration/qemu-boot-vms.c
tests_integration_qemu_boot_vms_CFLAGS = $(AM_CFLAGS)
tests_integration_qemu_boot_vms_LDADD = libbanger.a $(BANGER_LIBS)
endif
EXTRA_DIST += tests/integration/qemu-boot.sh tools/demo-image.sh tests/unit/hv-standin.h \
	tests/demo-image-lib.sh

# The demo guest: kernel, initramfs and rootfs from Debian packages.
DEMO_IMAGE_DIR = $(abs_top_builddir)/demo-image
.PHONY: demo-image
demo-image:
	$(SHELL) $(abs_top_srcdir)/tools/demo-image.sh $(DEMO_IMAGE_DIR)
# distcheck runs the boot test, which builds the image in the build tree.
distclean-local: distclean-demo-image
.PHONY: distclean-demo-image
distclean-demo-image:
	-rm -rf $(DEMO_IMAGE_DIR) $(DEMO_IMAGE_DIR).lock $(DEMO_IMAGE_DIR).build.log
