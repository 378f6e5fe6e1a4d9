import sys

from reliability.cluster.demo import main

sys.exit(main())
