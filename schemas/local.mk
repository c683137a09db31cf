# SPDX-License-Identifier: GPL-2.0-or-later
# The JSON Schemas and the example state directory, installed side by side
# under $(pkgdatadir) so that the examples' "$schema=../schemas/..." lines
# still point at the schemas.
nobase_dist_pkgdata_DATA = \
	schemas/host.schema.json \
	schemas/image.schema.json \
	schemas/vm.schema.json \
	schemas/filesync.schema.json \
	examples/host.yaml \
	examples/images/demo.yaml \
	examples/vms/web.yaml \
	examples/vms/worker.yaml \
	examples/filesyncs/dotfiles.yaml \
	examples/files/bashrc \
	examples/files/motd
