from localhost:5000/base:latest as MiXeD
Run echo hi
wOrKdIr /x
cOpY . .
eNv K=v
HealthCheck --interval=10s cmd ["true"]
stopsignal SIGTERM
