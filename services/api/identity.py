"""Who this replica is: the evidence scenarios use to tell replicas apart."""

import os
import socket

HOSTNAME = socket.gethostname()
PID = os.getpid()
