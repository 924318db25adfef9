#!/usr/bin/env python3
# Writes the machine-b fixture tree (see README.md): every file in the kernel's own text format.
# Run from this directory: python3 assemble.py  (it rewrites proc/, sys/, etc/ and statvfs).
import os, shutil

ROOT = os.path.dirname(os.path.abspath(__file__))

def w(path, text):
    p = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)

for d in ("proc", "sys", "etc"):
    shutil.rmtree(os.path.join(ROOT, d), ignore_errors=True)

# ---------------------------------------------------------------- system identity
w("proc/sys/kernel/hostname", "storage-b\n")
w("proc/sys/kernel/osrelease", "5.15.0-91-generic\n")
w("etc/os-release", '''PRETTY_NAME="Ubuntu 22.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
''')
w("etc/passwd", '''root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:100:102:systemd Network Management,,,:/run/systemd:/usr/sbin/nologin
systemd-resolve:x:101:103:systemd Resolver,,,:/run/systemd:/usr/sbin/nologin
_chrony:x:114:121:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin
postgres:x:115:122:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
alice:x:1000:1000:Alice Admin,,,:/home/alice:/bin/bash
''')
w("proc/uptime", "1036795.42 7912348.90\n")
w("proc/loadavg", "2.37 1.94 1.61 4/612 31874\n")

# ---------------------------------------------------------------- cpu: 1 package, 4 cores, 8 threads
cpus = [
    (2913420, 1512, 612044, 78834120, 212330, 0, 40121, 0, 0, 0),
    (2870112, 1430, 598210, 78902231, 198402, 0, 11820, 0, 0, 0),
    (2901544, 1611, 604331, 78860110, 205511, 0, 9874, 0, 0, 0),
    (2855890, 1390, 590127, 78930442, 201077, 0, 9640, 0, 0, 0),
    (2799310, 1288, 577902, 79010345, 190822, 0, 8932, 0, 0, 0),
    (2812003, 1301, 581120, 78990876, 192311, 0, 8711, 0, 0, 0),
    (2790441, 1270, 575002, 79030112, 188940, 0, 8650, 0, 0, 0),
    (2808812, 1342, 579877, 79001234, 190003, 0, 8799, 0, 0, 0),
]
total = [sum(c[i] for c in cpus) for i in range(10)]
lines = ["cpu  " + " ".join(map(str, total))]
lines += ["cpu%d %s" % (i, " ".join(map(str, c))) for i, c in enumerate(cpus)]
lines.append("intr 1893412876 9 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 35 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 412355 0 "
             "18833102 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0")
lines.append("ctxt 4412870551")
lines.append("btime 1794557600")
lines.append("processes 31874")
lines.append("procs_running 4")
lines.append("procs_blocked 1")
lines.append("softirq 612004512 12 198003441 1204 98334120 1873002 0 612 171230441 0 140558680")
w("proc/stat", "\n".join(lines) + "\n")

cpuinfo = []
for i in range(8):
    cpuinfo.append('''processor	: %d
vendor_id	: GenuineIntel
cpu family	: 6
model		: 158
model name	: Intel(R) Xeon(R) E-2174G CPU @ 3.80GHz
stepping	: 10
microcode	: 0xf4
cpu MHz		: %s
cache size	: 8192 KB
physical id	: 0
siblings	: 8
core id		: %d
cpu cores	: 4
apicid		: %d
initial apicid	: %d
fpu		: yes
fpu_exception	: yes
cpuid level	: 22
wp		: yes
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb invpcid_single pti ssbd ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves dtherm ida arat pln pts hwp hwp_notify hwp_act_window hwp_epp md_clear flush_l1d arch_capabilities
bogomips	: 7599.80
clflush size	: 64
cache_alignment	: 64
address sizes	: 39 bits physical, 48 bits virtual
power management:
''' % (i, ["4300.012", "3800.000", "800.122", "4299.871", "3801.430", "799.998", "4112.650", "3799.104"][i], i % 4, (i % 4) * 2 + i // 4, (i % 4) * 2 + i // 4))
w("proc/cpuinfo", "\n".join(cpuinfo))

cpu = "sys/devices/system/cpu/"
w(cpu + "online", "0-7\n")
w(cpu + "possible", "0-7\n")
w(cpu + "present", "0-7\n")
freqs = [4300012, 3800000, 800122, 4299871, 3801430, 799998, 4112650, 3799104]
for i in range(8):
    d = cpu + "cpu%d/" % i
    w(d + "topology/core_id", "%d\n" % (i % 4))
    w(d + "topology/physical_package_id", "0\n")
    w(d + "topology/thread_siblings_list", "%d,%d\n" % (i % 4, i % 4 + 4))
    w(d + "topology/core_cpus_list", "%d,%d\n" % (i % 4, i % 4 + 4))
    w(d + "cpufreq/scaling_cur_freq", "%d\n" % freqs[i])
    w(d + "cpufreq/cpuinfo_min_freq", "800000\n")
    w(d + "cpufreq/cpuinfo_max_freq", "4700000\n")
    w(d + "cpufreq/scaling_min_freq", "800000\n")
    w(d + "cpufreq/scaling_max_freq", "4700000\n")
    w(d + "cpufreq/scaling_governor", "powersave\n")
    w(d + "cpufreq/scaling_driver", "intel_pstate\n")

# ---------------------------------------------------------------- memory (32 GiB, some swap in use)
w("proc/meminfo", '''MemTotal:       32693140 kB
MemFree:         1240336 kB
MemAvailable:   18350212 kB
Buffers:          902144 kB
Cached:         15112084 kB
SwapCached:        41220 kB
Active:         14022308 kB
Inactive:       14830112 kB
Active(anon):    6120448 kB
Inactive(anon):  7301120 kB
Active(file):    7901860 kB
Inactive(file):  7528992 kB
Unevictable:       27652 kB
Mlocked:           27652 kB
SwapTotal:       8388604 kB
SwapFree:        8012344 kB
Dirty:              5388 kB
Writeback:             0 kB
AnonPages:      12812400 kB
Mapped:          4120876 kB
Shmem:           2330512 kB
KReclaimable:    1320440 kB
Slab:            1988812 kB
SReclaimable:    1320440 kB
SUnreclaim:       668372 kB
KernelStack:       18896 kB
PageTables:        88712 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    24735172 kB
Committed_AS:   21876544 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       84212 kB
VmallocChunk:          0 kB
Percpu:            12800 kB
HardwareCorrupted:     0 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:         0 kB
FilePmdMapped:         0 kB
HugePages_Total:     512
HugePages_Free:      488
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:         1048576 kB
DirectMap4k:      612144 kB
DirectMap2M:    18118656 kB
DirectMap1G:    15728640 kB
''')
w("proc/vmstat", '''nr_free_pages 310084
nr_zone_inactive_anon 1825280
nr_zone_active_anon 1530112
nr_zone_inactive_file 1882248
nr_zone_active_file 1975465
nr_zone_unevictable 6913
nr_zone_write_pending 1347
nr_mlock 6913
nr_bounce 0
nr_zspages 0
nr_free_cma 0
numa_hit 9812033412
numa_miss 0
numa_foreign 0
numa_interleave 4312
numa_local 9812033412
numa_other 0
nr_inactive_anon 1825280
nr_active_anon 1530112
nr_inactive_file 1882248
nr_active_file 1975465
nr_unevictable 6913
nr_slab_reclaimable 330110
nr_slab_unreclaimable 167093
nr_isolated_anon 0
nr_isolated_file 0
workingset_nodes 41200
workingset_refault_anon 18822
workingset_refault_file 2231400
workingset_activate_anon 9921
workingset_activate_file 912233
workingset_restore_anon 4411
workingset_restore_file 401122
workingset_nodereclaim 1233
nr_anon_pages 3203100
nr_mapped 1030219
nr_file_pages 3988862
nr_dirty 1347
nr_writeback 0
nr_writeback_temp 0
nr_shmem 582628
nr_shmem_hugepages 0
nr_shmem_pmdmapped 0
nr_file_hugepages 0
nr_file_pmdmapped 0
nr_anon_transparent_hugepages 0
nr_vmscan_write 98211
nr_vmscan_immediate_reclaim 1204
nr_dirtied 412003311
nr_written 409881200
nr_kernel_misc_reclaimable 0
nr_foll_pin_acquired 0
nr_foll_pin_released 0
nr_kernel_stack 18896
nr_page_table_pages 22178
nr_swapcached 10305
nr_dirty_threshold 3731290
nr_dirty_background_threshold 1863356
pgpgin 1988123004
pgpgout 3312009876
pswpin 94120
pswpout 188433
pgalloc_dma 0
pgalloc_dma32 412003
pgalloc_normal 11830022331
pgalloc_movable 0
allocstall_dma 0
allocstall_dma32 0
allocstall_normal 312
allocstall_movable 1402
pgfree 11842331204
pgactivate 881203311
pgdeactivate 120334112
pglazyfree 0
pgfault 18830441203
pgmajfault 881203
pglazyfreed 0
pgrefill 140223301
pgreuse 1203344123
pgsteal_kswapd 410233122
pgsteal_direct 1203442
pgscan_kswapd 433012877
pgscan_direct 1402330
pgscan_direct_throttle 0
pgscan_anon 12033441
pgscan_file 422382770
pgsteal_anon 9112043
pgsteal_file 402324521
zone_reclaim_failed 0
pginodesteal 0
slabs_scanned 98234112
kswapd_inodesteal 112044
kswapd_low_wmark_hit_quickly 4123
kswapd_high_wmark_hit_quickly 1120
pageoutrun 88213
pgrotated 40112
drop_pagecache 0
drop_slab 0
oom_kill 2
numa_pte_updates 0
numa_huge_pte_updates 0
numa_hint_faults 0
numa_hint_faults_local 0
numa_pages_migrated 0
pgmigrate_success 1204331
pgmigrate_fail 12
thp_migration_success 0
thp_migration_fail 0
thp_migration_split 0
compact_migrate_scanned 3312004
compact_free_scanned 12233044
compact_isolated 2413302
compact_stall 120
compact_fail 33
compact_success 87
compact_daemon_wake 4120
compact_daemon_migrate_scanned 120331
compact_daemon_free_scanned 412033
htlb_buddy_alloc_success 0
htlb_buddy_alloc_fail 0
unevictable_pgs_culled 88120
unevictable_pgs_scanned 0
unevictable_pgs_rescued 4120
unevictable_pgs_mlocked 12033
unevictable_pgs_munlocked 5120
unevictable_pgs_cleared 0
unevictable_pgs_stranded 0
thp_fault_alloc 0
thp_fault_fallback 0
thp_fault_fallback_charge 0
thp_collapse_alloc 0
thp_collapse_alloc_failed 0
thp_file_alloc 0
thp_file_fallback 0
thp_file_fallback_charge 0
thp_file_mapped 0
thp_split_page 0
thp_split_page_failed 0
thp_deferred_split_page 0
thp_split_pmd 0
thp_split_pud 0
thp_zero_page_alloc 0
thp_zero_page_alloc_failed 0
thp_swpout 0
thp_swpout_fallback 0
balloon_inflate 0
balloon_deflate 0
balloon_migrate 0
swap_ra 41203
swap_ra_hit 30122
direct_map_level2_splits 412
direct_map_level3_splits 12
nr_unstable 0
''')

# ---------------------------------------------------------------- pressure (PSI on, an I/O-bound box)
w("proc/pressure/cpu", '''some avg10=4.12 avg60=3.87 avg300=3.51 total=912033411220
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
''')
w("proc/pressure/memory", '''some avg10=0.31 avg60=0.22 avg300=0.18 total=40123344112
full avg10=0.12 avg60=0.09 avg300=0.07 total=18830221004
''')
w("proc/pressure/io", '''some avg10=18.43 avg60=15.02 avg300=11.87 total=3312004877120
full avg10=12.20 avg60=9.96 avg300=7.41 total=2201887304112
''')
w("adjtimex", '''         mode: 0
       offset: -23411
    frequency: -1183744
     maxerror: 4123
     esterror: 212
       status: 8193
time_constant: 7
    precision: 1
    tolerance: 32768000
         tick: 10000
     raw time:  1795594815s 662181us = 1795594815.662181
 return value = 0
''')

# ---------------------------------------------------------------- mounts and statvfs
w("proc/self/mountinfo", r'''21 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
23 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=16323744k,nr_inodes=4080936,mode=755,inode64
24 23 0:22 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5,mode=620,ptmxmode=000
25 28 0:23 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=3269316k,mode=755,inode64
28 1 9:0 / / rw,relatime shared:1 - ext4 /dev/md0 rw,errors=remount-ro
26 21 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw
27 23 0:24 / /dev/shm rw,nosuid,nodev,inode64 shared:4 - tmpfs tmpfs rw,inode64
29 25 0:25 / /run/lock rw,nosuid,nodev,noexec,relatime shared:6 - tmpfs tmpfs rw,size=5120k,inode64
30 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 21 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
32 21 0:28 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:11 - bpf bpf rw,mode=700
33 22 0:29 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - autofs systemd-1 rw,fd=29,pgrp=1,timeout=0,minproto=5,maxproto=5,direct,pipe_ino=17712
34 23 0:19 / /dev/mqueue rw,nosuid,nodev,noexec,relatime shared:14 - mqueue mqueue rw
35 23 0:30 / /dev/hugepages rw,relatime shared:15 - hugetlbfs hugetlbfs rw,pagesize=2M
36 21 0:7 / /sys/kernel/debug rw,nosuid,nodev,noexec,relatime shared:16 - debugfs debugfs rw
37 21 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:17 - tracefs tracefs rw
38 21 0:31 / /sys/fs/fuse/connections rw,nosuid,nodev,noexec,relatime shared:18 - fusectl fusectl rw
39 21 0:32 / /sys/kernel/config rw,nosuid,nodev,noexec,relatime shared:19 - configfs configfs rw
60 28 8:1 / /boot/efi rw,relatime shared:31 - vfat /dev/sda1 rw,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro
61 28 9:1 / /srv/data rw,noatime shared:32 - xfs /dev/md1 rw,attr2,inode64,logbufs=8,logbsize=32k,sunit=1024,swidth=3072,noquota
62 28 259:1 / /var/lib/postgresql rw,noatime shared:33 - ext4 /dev/nvme0n1p1 rw,stripe=32
63 28 7:0 / /snap/core20/2015 ro,nodev,relatime shared:34 - squashfs /dev/loop0 ro,errors=continue
64 61 9:1 /backups /srv/backup\040copies ro,noatime shared:32 - xfs /dev/md1 rw,attr2,inode64,logbufs=8,logbsize=32k,sunit=1024,swidth=3072,noquota
65 28 0:50 / /mnt/archive rw,relatime shared:35 - nfs4 fileserver.example.com:/export/archive rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.5,local_lock=none,addr=10.0.0.20
66 25 0:51 / /run/user/1000 rw,nosuid,nodev,relatime shared:36 - tmpfs tmpfs rw,size=3269312k,nr_inodes=817328,mode=700,uid=1000,gid=1000,inode64
67 28 0:52 / /var/lib/docker/overlay2/7b1c0e5d/merged rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABCD:/var/lib/docker/overlay2/l/EFGH,upperdir=/var/lib/docker/overlay2/7b1c0e5d/diff,workdir=/var/lib/docker/overlay2/7b1c0e5d/work
''')
w("statvfs", r'''# mount f_bsize f_blocks f_bfree f_bavail f_files f_ffree flags
# statvfs(3) figures of the mounts disk.filesystems reports (see README.md); "hang" = never returns.
/ 4096 24375824 9012331 7766177 6094848 5501227 rw
/boot/efi 4096 130812 128011 128011 0 0 rw
/srv/data 4096 1464946944 212331008 212331008 585987968 585874112 rw
/var/lib/postgresql 4096 117155766 20988101 15022709 29294592 29290011 rw
/srv/backup\040copies 4096 1464946944 212331008 212331008 585987968 585874112 ro
/mnt/archive hang
''')

# ---------------------------------------------------------------- block devices (kernel 5.15: 20 fields)
w("proc/diskstats", '''   7       0 loop0 412 0 8834 101 0 0 0 0 0 232 101 0 0 0 0 0 0
   7       1 loop1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   8       0 sda 1874332 40112 98332114 402331 9983312 4012233 412033441 3312004 0 4120331 3714335 0 0 0 0 1203311 91203
   8       1 sda1 1204 3311 98213 312 2 0 2 0 0 402 312 0 0 0 0 0 0
   8       2 sda2 1872901 36801 98229877 401998 9983310 4012233 412033439 3312004 0 4119901 3714002 0 0 0 0 0 0
   8      16 sdb 1870211 39001 98101344 433012 9983312 4012233 412033441 3412033 0 4211002 3845045 0 0 0 0 1203311 93120
   8      17 sdb1 1103 2988 88122 301 0 0 0 0 0 388 301 0 0 0 0 0 0
   8      18 sdb2 1868881 36013 98011198 432688 9983312 4012233 412033441 3412033 0 4210577 3844721 0 0 0 0 0 0
   8      32 sdc 9120331 120331 1412033441 88120331 4120332 220331 903311201 41203312 3 12033441 129323643 0 0 0 0 120331 40123
   8      33 sdc1 9120201 120331 1412031233 88120112 4120332 220331 903311201 41203312 3 12033112 129323424 0 0 0 0 0 0
   8      48 sdd 9118004 119877 1411877320 87990112 4120330 220331 903311177 41188312 2 12031004 129178424 0 0 0 0 120331 40002
   8      49 sdd1 9117877 119877 1411875112 87989904 4120330 220331 903311177 41188312 2 12030881 129178216 0 0 0 0 0 0
   8      64 sde 9119233 120112 1411990332 88330441 4120331 220331 903311190 41302331 4 12040331 129632772 0 0 0 0 120331 40211
   8      65 sde1 9119104 120112 1411988124 88330220 4120331 220331 903311190 41302331 4 12040112 129632551 0 0 0 0 0 0
   8      80 sdf 4412033 60331 702331201 44120331 2010331 110331 441203312 20120331 0 6020331 64240662 0 0 0 0 60112 20112
   8      81 sdf1 4411904 60331 702328993 44120112 2010331 110331 441203312 20120331 0 6020112 64240443 0 0 0 0 0 0
   8      96 sdg 22031 0 176248 12033 1883120 0 330221440 9120331 12 1204331 9132364 0 0 0 0 0 0
   8      97 sdg1 21902 0 174040 11912 1883120 0 330221440 9120331 12 1204210 9132243 0 0 0 0 0 0
 259       0 nvme0n1 41203312 0 3312004112 8120331 88120331 0 9120331204 41203312 1 31203311 49323643 412033 0 90120331 4120 8812033 120331
 259       1 nvme0n1p1 41201211 0 3311987704 8120112 88120331 0 9120331204 41203312 1 31203112 49323424 412033 0 90120331 4120 0 0
 259       2 nvme0n1p2 1204 0 14336 219 0 0 0 0 0 220 219 0 0 0 0 0 0
   9       0 md0 3743203 0 196561075 0 13995643 0 824066880 0 0 0 0 0 0 0 0 0 0
   9       1 md1 31220331 0 4911003442 0 12033442 0 2712033446 0 0 0 0 0 0 0 0 0 0
  11       0 sr0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
''')
for part, num in [("sda1", 1), ("sda2", 2), ("sdb1", 1), ("sdb2", 2), ("sdc1", 1), ("sdd1", 1), ("sde1", 1),
                  ("sdf1", 1), ("sdg1", 1), ("nvme0n1p1", 1), ("nvme0n1p2", 2)]:
    w("sys/class/block/%s/partition" % part, "%d\n" % num)
for disk in ["loop0", "loop1", "ram0", "sda", "sdb", "sdc", "sdd", "sde", "sdf", "sdg", "nvme0n1", "md0", "md1", "sr0"]:
    w("sys/class/block/%s/removable" % disk, "0\n")

w("proc/mdstat", '''Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10]
md1 : active raid5 sdg1[4] sdf1[3](F) sde1[2] sdd1[1] sdc1[0]
      5859781632 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UUU_]
      [====>................]  recovery = 22.4% (437593600/1953260544) finish=168.5min speed=149924K/sec
      bitmap: 4/15 pages [16KB], 65536KB chunk

md0 : active raid1 sdb2[1] sda2[0]
      97499136 blocks super 1.2 [2/2] [UU]
      bitmap: 1/1 pages [4KB], 65536KB chunk

unused devices: <none>
''')

# ---------------------------------------------------------------- sensors
hw = "sys/class/hwmon/"
w(hw + "hwmon0/name", "acpitz\n")
w(hw + "hwmon0/temp1_input", "27800\n")
w(hw + "hwmon0/temp1_crit", "119000\n")
w(hw + "hwmon1/name", "coretemp\n")
for n, (label, v) in enumerate([("Package id 0", 58000), ("Core 0", 55000), ("Core 1", 58000), ("Core 2", 54000),
                                ("Core 3", 57000)], start=1):
    w(hw + "hwmon1/temp%d_label" % n, label + "\n")
    w(hw + "hwmon1/temp%d_input" % n, "%d\n" % v)
    w(hw + "hwmon1/temp%d_max" % n, "84000\n")
    w(hw + "hwmon1/temp%d_crit" % n, "100000\n")
    w(hw + "hwmon1/temp%d_crit_alarm" % n, "0\n")
w(hw + "hwmon2/name", "nvme\n")
w(hw + "hwmon2/temp1_label", "Composite\n")
w(hw + "hwmon2/temp1_input", "41850\n")
w(hw + "hwmon2/temp1_max", "81850\n")
w(hw + "hwmon2/temp1_min", "-273150\n")
w(hw + "hwmon2/temp1_crit", "84850\n")
w(hw + "hwmon2/temp1_alarm", "0\n")
w(hw + "hwmon2/temp2_label", "Sensor 1\n")
w(hw + "hwmon2/temp2_input", "41850\n")
w(hw + "hwmon2/temp2_max", "65261850\n")
w(hw + "hwmon2/temp2_min", "-273150\n")
w(hw + "hwmon2/temp3_label", "Sensor 2\n")
w(hw + "hwmon2/temp3_input", "47850\n")
w(hw + "hwmon2/temp3_max", "65261850\n")
w(hw + "hwmon2/temp3_min", "-273150\n")
# The Super-I/O chip: fans and board temperatures. fan3 has no fan connected (reads 0).
w(hw + "hwmon3/name", "nct6775\n")
w(hw + "hwmon3/temp1_label", "SYSTIN\n")
w(hw + "hwmon3/temp1_input", "34000\n")
w(hw + "hwmon3/temp1_max", "80000\n")
w(hw + "hwmon3/temp1_max_hyst", "75000\n")
w(hw + "hwmon3/temp2_label", "CPUTIN\n")
w(hw + "hwmon3/temp2_input", "46500\n")
w(hw + "hwmon3/temp2_max", "80000\n")
w(hw + "hwmon3/temp2_max_hyst", "75000\n")
for n, (label, rpm, mn) in enumerate([("CPU Fan", 1054, 300), ("Chassis Fan 1", 882, 300), ("Chassis Fan 2", 0, 0)], start=1):
    w(hw + "hwmon3/fan%d_input" % n, "%d\n" % rpm)
    w(hw + "hwmon3/fan%d_min" % n, "%d\n" % mn)
    w(hw + "hwmon3/fan%d_alarm" % n, "0\n")
    w(hw + "hwmon3/fan%d_label" % n, label + "\n")
w(hw + "hwmon3/fan1_div", "8\n")
# The chip's own alarm flags (nct6775 has one per temperature and fan, and a chassis intrusion
# input): all clear on this machine.
w(hw + "hwmon3/temp1_alarm", "0\n")
w(hw + "hwmon3/temp2_alarm", "0\n")
w(hw + "hwmon3/intrusion0_alarm", "0\n")

th = "sys/class/thermal/"
w(th + "thermal_zone0/type", "acpitz\n")
w(th + "thermal_zone0/temp", "27800\n")
w(th + "thermal_zone0/mode", "enabled\n")
w(th + "thermal_zone0/policy", "step_wise\n")
w(th + "thermal_zone0/trip_point_0_type", "critical\n")
w(th + "thermal_zone0/trip_point_0_temp", "119000\n")
w(th + "thermal_zone1/type", "x86_pkg_temp\n")
w(th + "thermal_zone1/temp", "58000\n")
w(th + "thermal_zone1/mode", "enabled\n")
w(th + "thermal_zone1/policy", "step_wise\n")
w(th + "thermal_zone1/trip_point_0_type", "passive\n")
w(th + "thermal_zone1/trip_point_0_temp", "0\n")
w(th + "thermal_zone1/trip_point_1_type", "passive\n")
w(th + "thermal_zone1/trip_point_1_temp", "0\n")
w(th + "cooling_device0/type", "Processor\n")
w(th + "cooling_device0/cur_state", "0\n")
w(th + "cooling_device0/max_state", "3\n")

edac = "sys/devices/system/edac/mc/"
w(edac + "mc0/mc_name", "IE31200\n")
w(edac + "mc0/ce_count", "3\n")
w(edac + "mc0/ue_count", "0\n")
w(edac + "mc0/ce_noinfo_count", "0\n")
w(edac + "mc0/ue_noinfo_count", "0\n")
w(edac + "mc0/size_mb", "32768\n")
w(edac + "mc0/seconds_since_reset", "1036790\n")
w(edac + "mc0/csrow0/ce_count", "3\n")
w(edac + "mc0/csrow0/ue_count", "0\n")

# ---------------------------------------------------------------- network
w("proc/net/dev", '''Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 88120331204 120331204    0    0    0     0          0         0 88120331204 120331204    0    0    0     0       0          0
  eth0: 9120331204411 8120331204    0  412    0     0          0    412033 4412033120441 5120331204    0    0    0     0       0          0
  eth1: 8812033120112 7912033120   17  398    0    17          0    401233 4388120331004 5098120331    0    0    0     0       0          0
 bond0: 17932364324523 16032364324   17  810    0    17          0    813266 8800153451445 10218451535    0    0    0     0       0          0
docker0:       0       0    0    0    0     0          0         0     4412      52    0    0    0     0       0          0
''')
net = "sys/class/net/"
for name, oper, carrier, speed, mtu in [("lo", "unknown", "1", None, "65536"),
                                        ("eth0", "up", "1", "10000", "9000"),
                                        ("eth1", "up", "1", "10000", "9000"),
                                        ("bond0", "up", "1", "20000", "9000"),
                                        ("docker0", "down", None, None, "1500")]:
    w(net + name + "/operstate", oper + "\n")
    if carrier is not None:
        w(net + name + "/carrier", carrier + "\n")
    if speed is not None:
        w(net + name + "/speed", speed + "\n")
    w(net + name + "/mtu", mtu + "\n")
w("proc/net/sockstat", '''sockets: used 1412
TCP: inuse 88 orphan 2 tw 41 alloc 104 mem 131
UDP: inuse 6 mem 12
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
''')
w("proc/net/sockstat6", '''TCP6: inuse 14
UDP6: inuse 3
UDPLITE6: inuse 0
RAW6: inuse 1
FRAG6: inuse 0 memory 0
''')
TCP_HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n"
def tcp4(rows):
    out = TCP_HEAD
    for i, (l, r, st, uid, inode) in enumerate(rows):
        out += "%4d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0                     \n" % (i, l, r, st, uid, inode)
    return out
w("proc/net/tcp", tcp4([
    ("00000000:0016", "00000000:0000", "0A", 0, 21734),      # sshd 0.0.0.0:22
    ("0100007F:1538", "00000000:0000", "0A", 115, 30112),    # postgres 127.0.0.1:5432
    ("00000000:01BB", "00000000:0000", "0A", 0, 30877),      # nginx 0.0.0.0:443
    ("00000000:01BB", "00000000:0000", "0A", 0, 30878),      # nginx, second SO_REUSEPORT listener
    ("3500007F:0035", "00000000:0000", "0A", 101, 19590),    # systemd-resolved 127.0.0.53:53
    ("0500000A:0016", "4D00000A:E2C4", "01", 0, 88120),      # ssh session from 10.0.0.77
    ("0500000A:01BB", "2A00000A:C350", "01", 33, 88133),
    ("0500000A:01BB", "2B00000A:C351", "06", 0, 0),          # TIME_WAIT
    ("0500000A:01BB", "2C00000A:C352", "06", 0, 0),
    ("0100007F:1538", "0100007F:B4F2", "08", 115, 88140),    # CLOSE_WAIT
    ("0500000A:9C40", "1400000A:0801", "02", 0, 88150),      # SYN_SENT to the NFS server
]))
TCP6_HEAD = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
def tcp6(rows):
    out = TCP6_HEAD
    for i, (l, r, st, uid, inode) in enumerate(rows):
        out += "%4d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n" % (i, l, r, st, uid, inode)
    return out
Z6 = "00000000000000000000000000000000"
w("proc/net/tcp6", tcp6([
    (Z6 + ":0016", Z6 + ":0000", "0A", 0, 21745),                                          # sshd [::]:22
    ("00000000000000000000000001000000:1538", Z6 + ":0000", "0A", 115, 30113),            # postgres [::1]:5432
    ("B80D0120000000000000000010000000:238C", Z6 + ":0000", "0A", 65534, 31001),           # exporter [2001:db8::10]:9100
    ("0000000000000000FFFF00000500000A:01BB", "0000000000000000FFFF00002D00000A:D431", "01", 33, 88201),
]))
UDP_HEAD = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             \n"
def udp(rows, v6=False):
    out = UDP_HEAD if not v6 else "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    for sl, l, r, st, uid, inode in rows:
        out += "%5d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 2 0000000000000000 0\n" % (sl, l, r, st, uid, inode)
    return out
w("proc/net/udp", udp([
    (353, "3500007F:0035", "00000000:0000", "07", 101, 19583),   # systemd-resolved 127.0.0.53:53
    (581, "0100007F:0143", "00000000:0000", "07", 114, 20112),   # chronyd 127.0.0.1:323
    (772, "0500000A:A1B2", "1400000A:0801", "01", 0, 88300),      # connected socket: not a listener
]))
w("proc/net/udp6", udp([
    (581, "00000000000000000000000001000000:0143", Z6 + ":0000", "07", 114, 20113),  # chronyd [::1]:323
], v6=True))

# ---------------------------------------------------------------- processes
w("proc/sys/fs/file-nr", "14208\t0\t9223372036854775807\n")
w("proc/sys/fs/file-max", "9223372036854775807\n")
# pid, comm, state, ppid, utime, stime, threads, starttime, rss pages, uid, vmsize kB
procs = [
    (1, "systemd", "S", 0, 18830, 41203, 1, 4, 3312, 0, 168912),
    (2, "kthreadd", "S", 0, 0, 412, 1, 4, 0, 0, 0),
    (14, "rcu_sched", "I", 2, 0, 88120, 1, 5, 0, 0, 0),
    (812, "systemd-journal", "S", 1, 41203, 30112, 1, 612, 20112, 0, 91232),
    (823, "sshd", "S", 1, 120, 88, 1, 702, 2051, 0, 15432),
    (901, "chronyd", "S", 1, 412, 881, 2, 710, 812, 114, 8992),
    (1204, "postgres", "S", 1, 98120, 41203, 1, 1020, 61203, 115, 4321088),
    (1288, "postgres", "R", 1204, 1203311, 412033, 1, 1101, 1204331, 115, 4402112),
    (1290, "postgres", "D", 1204, 412033, 880331, 1, 1102, 812033, 115, 4398004),
    (1890, "tmux: server", "S", 1, 4120, 1203, 1, 88120, 1204, 1000, 12004),
    (2301, "(sd-pam)", "S", 2299, 0, 2, 1, 88100, 1012, 1000, 170112),
    (2450, "worker) (2 x", "S", 1890, 88120, 4120, 9, 90233, 204331, 1000, 2203312),
    (2990, "rsync", "D", 3050, 41203, 120331, 1, 99120, 3120, 0, 14432),
    (3050, "backup.sh", "S", 1, 12, 30, 1, 99100, 812, 0, 9920),
    (3101, "gzip", "Z", 3050, 88120, 1203, 1, 99130, 0, 0, 0),
    (3377, "vim", "T", 1890, 120, 44, 1, 100233, 3312, 1000, 22124),
    (4100, "nginx", "S", 1, 412, 203, 1, 1200, 2410, 0, 56112),
    (4101, "nginx", "S", 4100, 120331, 88120, 1, 1201, 8812, 33, 57800),
    (7001, "kworker/u16:2-events_unbound", "I", 2, 0, 4120, 1, 301233, 0, 0, 0),
    (9120, "node_exporter", "S", 1, 31203, 12033, 12, 1400, 6120, 65534, 1233112),
]
state_words = {"R": "R (running)", "S": "S (sleeping)", "D": "D (disk sleep)", "Z": "Z (zombie)",
               "T": "T (stopped)", "I": "I (idle)"}
for pid, comm, st, ppid, ut, stime, thr, start, rss, uid, vsz in procs:
    kthread = ppid == 2 or pid == 2
    if not kthread:
        comm = comm[:15]  # TASK_COMM_LEN; workqueue kthreads show longer names (wq_worker_comm, 4.18+)
    flags = 69238880 if kthread else 4194560
    stat = ("%d (%s) %s %d %d %d 0 -1 %d 1203 0 12 0 %d %d 0 0 20 0 %d 0 %d %d %d 18446744073709551615 "
            "94206138488832 94206139391633 140730818113856 0 0 0 671173123 4096 1260 1 0 0 17 %d 0 0 0 0 0 "
            "94206139716240 94206139762272 94206163345408 140730818120001 140730818120023 140730818120023 "
            "140730818121707 0\n") % (pid, comm, st, ppid, pid, pid, flags, ut, stime, thr, start, vsz * 1024,
                                      rss, pid % 8)
    w("proc/%d/stat" % pid, stat)
    status = ("Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n"
              "Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nFDSize:\t64\nGroups:\t\n") % (
        comm.replace("\\", "\\\\"), state_words[st], pid, pid, ppid, uid, uid, uid, uid, uid, uid, uid, uid)
    if vsz and st != "Z":
        status += "VmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\n" % (vsz, vsz, rss * 4, rss * 4)
    status += "Threads:\t%d\nSigQ:\t0/127431\nCpus_allowed_list:\t0-7\nvoluntary_ctxt_switches:\t1203\nnonvoluntary_ctxt_switches:\t41\n" % thr
    w("proc/%d/status" % pid, status)
# A process that exited while the tree was read: its directory is there, its files are gone.
os.makedirs(os.path.join(ROOT, "proc/31870"), exist_ok=True)
w("proc/31870/.gone", "")

# shd itself (system.self reads proc/self)
w("proc/self/stat", "31874 (shd) S 1 31874 31874 0 -1 4194560 1880 0 0 0 41 12 0 0 20 0 2 0 103679300 "
  "12582912 2112 18446744073709551615 1 1 0 0 0 0 0 4096 16386 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
w("proc/self/status", '''Name:	shd
Umask:	0027
State:	S (sleeping)
Tgid:	31874
Ngid:	0
Pid:	31874
PPid:	1
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	64
Groups:	
VmPeak:	   12288 kB
VmSize:	   12288 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    8448 kB
VmRSS:	    8448 kB
RssAnon:	    2304 kB
RssFile:	    6144 kB
RssShmem:	       0 kB
Threads:	2
voluntary_ctxt_switches:	8812
nonvoluntary_ctxt_switches:	12
''')
