import sys
from pathlib import Path

# The tests share a job-story builder (reporting_story.py) kept next to them.
sys.path.insert(0, str(Path(__file__).parent))
