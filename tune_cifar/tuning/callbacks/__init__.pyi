from ._journal import JournalCallback as JournalCallback
from ._lean import TrimEndedTrials as TrimEndedTrials
from ._live_view import LiveView as LiveView
from ._live_view import live_output as live_output
from ._result_files import KeepResultFiles as KeepResultFiles
from ._tensorboard import ReadableTensorBoard as ReadableTensorBoard
from ._trackers import MLflowRuns as MLflowRuns
from ._trackers import tracker_callbacks as tracker_callbacks
