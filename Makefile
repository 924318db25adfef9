# shd: entry points around SwiftPM and the Debian packaging.
#   make deb   build the .deb (dpkg-buildpackage -us -uc -b) into $(OUT)/

OUT ?= out

DEB_VERSION := $(shell dpkg-parsechangelog -S Version 2>/dev/null)
DEB_ARCH := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
# dpkg-buildpackage always writes its results into the parent folder.
DEB_RESULTS := ../shd_$(DEB_VERSION)_$(DEB_ARCH).deb \
	../shd-dbgsym_$(DEB_VERSION)_$(DEB_ARCH).deb \
	../shd_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
	../shd_$(DEB_VERSION)_$(DEB_ARCH).changes

.PHONY: deb
deb:
	dpkg-buildpackage -us -uc -b
	mkdir -p $(OUT)
	rm -f $(OUT)/shd_*.deb $(OUT)/shd-dbgsym_*.deb $(OUT)/shd_*.buildinfo $(OUT)/shd_*.changes
	for f in $(DEB_RESULTS); do if [ -e "$$f" ]; then mv "$$f" $(OUT)/; fi; done
	@ls -l $(OUT)/shd_$(DEB_VERSION)_$(DEB_ARCH).deb
