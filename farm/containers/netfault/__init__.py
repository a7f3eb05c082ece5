"""The fault agent of the compose farm: a program run in a container that shares one node's network namespace, which
puts one network fault on that node's link to its cache or the source store with the kernel's own means (iptables
rules, sockets destroyed, packets held in a netfilter queue) and takes it off again when healed or when its time is
up. Standard library only: it runs in its own small image (compose/Dockerfile, target ``netfault``), not the app's."""
