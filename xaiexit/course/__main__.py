import sys

from xaiexit.course.cli import main

sys.exit(main())
