from ._calls import confirm as confirm
from ._calls import load_experiment as load_experiment
from ._calls import resume as resume
from ._calls import search as search
from ._keywords import options_from_keywords as options_from_keywords
from ._report import report_outcome as report_outcome
from ._report import storage_full_line as storage_full_line
from ._trainable import trainable as trainable
